/**
 * The ledger's operations: validated input in, typed outcomes out. Pure logic over the storage
 * port; no transport and no SQL here.
 */
import { attempt } from "./attempt.js";
import { HoldLedger } from "./hold-ledger.js";
import { HOLD_SETTINGS_DEFAULT, type HoldSettings } from "./hold-input.js";
import type {
  Account,
  AccountPolicy,
  AccountState,
  Entry,
  EntryKind,
  EntryQuery,
  LedgerStore,
  PayoutRow,
  Verdict,
} from "../store/store.js";
import { assert } from "../assert.js";
import { foldTotals, nearerThePresent, unfoldTotals } from "./account.js";
import { INT64_MAX } from "./money.js";
import { encodeEntryPageToken } from "./history.js";
import { openEntryStream, streamStart, type EntryStream, type StreamQuery } from "./entry-stream.js";
import { DEFAULT_POLICY, type AccountPolicyRow } from "../store/store.js";
import { refusalFailure, type PolicyInput } from "./policy.js";
import { failure, success, type Outcome, type ReusedKeyField } from "./outcome.js";
import { encodePageToken } from "./page-token.js";
import type { BalanceQuery, PayoutPageQuery } from "./queries.js";
import { decideAdjust, decideAuthorize, decideLoad, type RejectReason } from "./rules.js";
import {
  decideTransfer,
  transferAccounts,
  transferOutcome,
  type TransferInput,
  type TransferReceipt,
} from "./transfer.js";
import type { MutationInput } from "./validate.js";
import {
  batchAccounts,
  batchDigest,
  batchHoldIds,
  batchOutcome,
  batchOwner,
  decideBatch,
  type BatchInput,
  type BatchItem,
  type BatchReceipt,
} from "./batch.js";

/** A mutation's result: the entry it recorded (or recorded first, when replayed). */
export interface Receipt {
  readonly entry: Entry;
  readonly balanceBefore: bigint;
  /** True when the idempotency key had already been used for this same request. */
  readonly replayed: boolean;
}

/** An account as GetBalance shows it: its position and its policy. */
export interface AccountView extends Account {
  readonly policy: AccountPolicy;
}

export interface PayoutPage {
  readonly payouts: PayoutRow[];
  readonly nextPageToken: string;
}

export interface EntryPage {
  readonly entries: Entry[];
  readonly nextPageToken: string;
}

export interface LedgerOptions {
  /** Used when a request leaves `currency` empty. */
  readonly defaultCurrency: string;
  /** The largest amount one mutation may move, in minor units. Default `AMOUNT_MINOR_MAX_DEFAULT`. */
  readonly amountMinorMax?: bigint;
  /** Hold lifetimes and the over-capture tolerance. Default `HOLD_SETTINGS_DEFAULT`. */
  readonly holds?: HoldSettings;
  /** The clock requests are validated against (milliseconds since 1970); `Date.now` by default. */
  readonly clockMs?: () => number;
  /** Most items in one ApplyBatch. Default `BATCH_ITEMS_MAX_DEFAULT` (1000). */
  readonly batchItemsMax?: number;
}

export class Ledger {
  /** Manual-capture authorizations, captures, voids and expiry. */
  readonly holds: HoldLedger;

  constructor(
    private readonly store: LedgerStore,
    readonly options: LedgerOptions,
  ) {
    this.holds = new HoldLedger(store, options.holds ?? HOLD_SETTINGS_DEFAULT, options.clockMs ?? Date.now);
  }

  load(input: MutationInput): Promise<Outcome<Receipt>> {
    return this.mutate("load", input, decideLoad(input.amount));
  }

  authorize(input: MutationInput): Promise<Outcome<Receipt>> {
    return this.mutate("authorize", input, decideAuthorize(input.amount));
  }

  adjust(input: MutationInput): Promise<Outcome<Receipt>> {
    return this.mutate("adjust", input, decideAdjust(input.amount));
  }

  async transfer(input: TransferInput): Promise<Outcome<TransferReceipt>> {
    const attempted = await attempt(() =>
      this.store.mutateGroup({
        accounts: transferAccounts(input),
        idempotency: input.idempotencyKey === null ? null : { userId: input.payerUserId, key: input.idempotencyKey },
        decide: decideTransfer(input),
      }),
    );
    return attempted.ok ? transferOutcome(input, attempted.value) : attempted;
  }

  /**
   * Applies a batch's items in order as one group mutation: every entry or none. The key is
   * scoped to the first item's user, whose leg comes first.
   */
  async applyBatch(parsed: BatchInput): Promise<Outcome<BatchReceipt>> {
    const resolved = await this.resolveBatchHolds(parsed);
    if (!resolved.ok) return resolved;
    const input = resolved.value;
    const attempted = await attempt(() =>
      this.store.mutateGroup({
        accounts: batchAccounts(input.items),
        idempotency:
          input.idempotencyKey === null ? null : { userId: batchOwner(input.items), key: input.idempotencyKey },
        holdIds: batchHoldIds(input.items),
        decide: decideBatch(input.items),
        batchDigest: batchDigest(input.items),
      }),
    );
    return attempted.ok ? batchOutcome(input, attempted.value) : attempted;
  }

  /**
   * Gives each capture and void its hold's currency (the account the batch must lock) and the
   * over-capture tolerance. The hold is read again under the lock; a hold that does not exist
   * yet, or is another user's, fails the batch at that item. So does a hold placed earlier in the
   * same batch: its id is only known once the batch is applied.
   */
  private async resolveBatchHolds(input: BatchInput): Promise<Outcome<BatchInput>> {
    const items: BatchItem[] = [];
    for (const [itemIndex, item] of input.items.entries()) {
      if (item.kind !== "capture" && item.kind !== "void") {
        items.push(item);
        continue;
      }
      const found = await attempt(() => this.store.getHold(item.holdId));
      if (!found.ok) return found;
      const hold = found.value;
      if (hold === undefined || hold.userId !== item.userId) {
        return failure({
          kind: "batch_item_failed",
          itemIndex,
          failure: { kind: "hold_not_found", holdId: item.holdId },
        });
      }
      items.push({ ...item, currency: hold.currency, overcaptureBps: this.holds.settings.overcaptureBps });
    }
    return success({ ...input, items });
  }

  /** Sets an account's policy; every later mutation of the account is decided under it. */
  setPolicy(input: PolicyInput): Promise<Outcome<AccountPolicyRow>> {
    const { userId, currency, overdraftLimit, state } = input;
    return attempt(() => this.store.setPolicy({ userId, currency }, { overdraftLimit, state }));
  }

  /**
   * The accounts (as they were at `asOfMs`, when given) with their policies. Policies keep no
   * history: an `as_of` read shows the policy in force now.
   */
  async getBalance(query: BalanceQuery): Promise<Outcome<AccountView[]>> {
    const asOfMs = query.asOfMs;
    const read = await attempt(() =>
      Promise.all([
        this.store
          .getAccounts(query.userId, query.currency)
          .then((current) => (asOfMs === undefined ? current : this.accountsAsOf(current, asOfMs))),
        this.store.getPolicies(query.userId, query.currency),
      ]),
    );
    if (!read.ok) return read;
    const [accounts, policies] = read.value;
    if (accounts.length === 0) {
      return failure({ kind: "account_not_found", userId: query.userId, currency: query.currency ?? null });
    }
    const byCurrency = new Map(policies.map((policy) => [policy.currency, policy]));
    return success(
      accounts.map((account) => {
        const policy = byCurrency.get(account.currency);
        return {
          ...account,
          policy:
            policy === undefined ? DEFAULT_POLICY : { overdraftLimit: policy.overdraftLimit, state: policy.state },
        };
      }),
    );
  }

  async getPayouts(query: PayoutPageQuery): Promise<Outcome<PayoutPage>> {
    // One row more than the page tells whether another page exists without a count query.
    const read = await attempt(() => this.store.listOutstandingPayouts({ ...query, limit: query.limit + 1 }));
    if (!read.ok) return read;
    const rows = read.value;
    const payouts = rows.slice(0, query.limit);
    const last = payouts.at(-1);
    const nextPageToken = rows.length > query.limit && last !== undefined ? encodePageToken(last) : "";
    return success({ payouts, nextPageToken });
  }

  async listEntries(query: EntryQuery): Promise<Outcome<EntryPage>> {
    // One row more than the page tells whether another page exists without a count query.
    const read = await attempt(() => this.store.listEntries({ ...query, limit: query.limit + 1 }));
    if (!read.ok) return read;
    const entries = read.value.slice(0, query.limit);
    const last = entries.at(-1);
    const nextPageToken =
      read.value.length > query.limit && last !== undefined ? encodeEntryPageToken(last.id, query.order) : "";
    return success({ entries, nextPageToken });
  }

  /**
   * The live stream of entries after the query's cursor (or after now), read at the consumer's
   * pace until `signal` aborts: see `entry-stream.ts`. Fails at once for a cursor beyond the
   * newest entry, or when the store cannot be read.
   */
  async streamEntries(query: StreamQuery, signal: AbortSignal): Promise<Outcome<EntryStream>> {
    const startId = await streamStart(this.store, query);
    if (typeof startId !== "bigint") return failure(startId);
    return success(openEntryStream(this.store, query, startId, signal));
  }

  async getEntry(id: bigint): Promise<Outcome<Entry>> {
    const read = await attempt(() => this.store.getEntry(id));
    if (!read.ok) return read;
    return read.value === undefined ? failure({ kind: "entry_not_found", entryId: id }) : success(read.value);
  }

  /**
   * The accounts as they were at `asOfMs`: each account's last entry by then gives the balance
   * (one seek), and grouped sums of entries give the lifetime totals: of the entries up to that
   * one, or, when the instant is nearer the account's present, the current totals minus the
   * sums of the entries after it (fewer rows to read; exact unless a total has saturated).
   * Accounts without an entry by then did not exist yet and are left out.
   */
  private async accountsAsOf(current: readonly Account[], asOfMs: number): Promise<Account[]> {
    const accounts: Account[] = [];
    for (const account of current) {
      const last = await this.store.lastEntryAsOf(account, asOfMs);
      if (last === undefined) continue;
      const state = nearerThePresent(account, asOfMs)
        ? unfoldTotals(account, await this.store.entryTotals(account, last.id, INT64_MAX), last.createdAtMs)
        : undefined;
      const folded =
        state ?? foldTotals(await this.store.entryTotals(account, 0n, last.id), account.createdAtMs, last.createdAtMs);
      assert(folded.balance === last.balanceAfter, "an entry's balance_after is the sum of its account's deltas");
      // Grouped sums carry no held amounts; the last entry records the account's held after it.
      accounts.push({ userId: account.userId, currency: account.currency, ...folded, held: last.heldAfter ?? 0n });
    }
    return accounts;
  }

  private async mutate(
    kind: EntryKind,
    input: MutationInput,
    decide: (current: AccountState | undefined, nowMs: number, policy: AccountPolicy) => Verdict<RejectReason>,
  ): Promise<Outcome<Receipt>> {
    const attempted = await attempt(() =>
      this.store.mutate({
        account: { userId: input.userId, currency: input.currency },
        idempotencyKey: input.idempotencyKey,
        decide,
      }),
    );
    if (!attempted.ok) return attempted;
    const result = attempted.value;
    switch (result.type) {
      case "applied":
        return success({ entry: result.entry, balanceBefore: result.before?.balance ?? 0n, replayed: false });
      case "existing": {
        const field = differingField(result.entry, kind, input);
        return field === undefined
          ? success({
              entry: result.entry,
              balanceBefore: result.entry.balanceAfter - result.entry.delta,
              replayed: true,
            })
          : failure({ kind: "idempotency_key_reused", idempotencyKey: input.idempotencyKey ?? "", field });
      }
      case "rejected": {
        // Authorize and Load amounts are debits and credits of that size; an adjustment is signed.
        const signed = kind === "authorize" ? -input.amount : input.amount;
        return failure(refusalFailure(result.reason, result.current, result.policy, signed));
      }
    }
  }
}

/**
 * A retry must repeat the method, currency and amount exactly to count as the same request; the
 * first that differs is named to the caller, so a client can tell a bug in its retry from a key
 * used twice.
 */
function differingField(entry: Entry, kind: EntryKind, input: MutationInput): ReusedKeyField | undefined {
  // A transfer's payer leg is an adjustment too, but an AdjustBalance retry is not its replay.
  if (entry.kind !== kind || entry.groupId !== undefined) return "method";
  if (entry.currency !== input.currency) return "currency";
  if (entry.amount !== input.amount) return "amount";
  return undefined;
}

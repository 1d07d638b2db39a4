/**
 * The kinds of mutation a batch may hold, as one small table: for each, the accounts it touches,
 * its decision (composed from the same rules that Load, Authorize, AdjustBalance and Transfer
 * use, so a batch can never be more lenient than the single calls), the legs it records, and how
 * its refusal is explained. A new kind (a hold's capture or void) is one more row.
 */
import { DEFAULT_POLICY } from "../store/store.js";
import type { AccountKey, AccountPolicy, AccountState, EntryKind, GroupVerdict, Verdict } from "../store/store.js";
import type { LedgerFailure } from "./outcome.js";
import { debitRefusal, refusalFailure } from "./policy.js";
import { decideAdjust, decideAuthorize, decideLoad, type RejectReason } from "./rules.js";
import { decideTransfer, transferAccounts, transferOutcome } from "./transfer.js";

/** A single-account item: a load, an immediate authorization or a signed adjustment. */
export interface AccountItem {
  readonly kind: "load" | "authorize" | "adjust";
  readonly userId: string;
  readonly currency: string;
  /** Minor units; signed for adjustments, positive otherwise. */
  readonly amount: bigint;
}

export interface TransferItem {
  readonly kind: "transfer";
  readonly payerUserId: string;
  readonly payeeUserId: string;
  readonly currency: string;
  /** Minor units to move: greater than zero. */
  readonly amount: bigint;
}

export type BatchItem = AccountItem | TransferItem;
export type BatchItemKind = BatchItem["kind"];

/** What a leg records, in the form a keyed replay compares: account, kind and signed amount. */
export interface LegShape extends AccountKey {
  readonly kind: EntryKind;
  readonly amount: bigint;
}

type GroupDecide = (
  current: readonly (AccountState | undefined)[],
  nowMs: number,
  policies: readonly AccountPolicy[],
) => GroupVerdict<RejectReason>;

interface ItemRow<Item extends BatchItem> {
  /** The accounts the item reads and writes, in the order its decision takes them. */
  accounts(item: Item): AccountKey[];
  decide(item: Item): GroupDecide;
  /** The legs the item records when applied. */
  legs(item: Item): LegShape[];
  /** The caller's failure for a refusal, given the states and policies of `accounts(item)`. */
  failure(
    item: Item,
    reason: RejectReason,
    current: readonly (AccountState | undefined)[],
    policies: readonly AccountPolicy[],
  ): LedgerFailure;
}

type SingleDecide = (current: AccountState | undefined, nowMs: number, policy: AccountPolicy) => Verdict<RejectReason>;

/** A single-account rule as a one-leg group decision. */
function oneLeg(item: AccountItem, decide: SingleDecide): GroupDecide {
  const account = { userId: item.userId, currency: item.currency };
  return (current, nowMs, policies) => {
    const before = current[0];
    const policy = policies[0] ?? DEFAULT_POLICY;
    const verdict = decide(before, nowMs, policy);
    if (verdict.type === "reject") return verdict;
    // All or nothing: an authorization the account cannot cover fails the batch instead of
    // being recorded as a decline, and it fails with the reason the decline would have had.
    if (verdict.entry.status === "declined") {
      return {
        type: "reject",
        reason: debitRefusal(before, item.amount, policy) ?? "insufficient_funds",
      };
    }
    return { type: "post", legs: [{ account, entry: verdict.entry, next: verdict.next }] };
  };
}

function accountRow(rule: (amount: bigint) => SingleDecide, debitSign: bigint): ItemRow<AccountItem> {
  return {
    accounts: (item) => [{ userId: item.userId, currency: item.currency }],
    decide: (item) => oneLeg(item, rule(item.amount)),
    legs: (item) => [{ userId: item.userId, currency: item.currency, kind: item.kind, amount: item.amount }],
    failure: (item, reason, current, policies) =>
      refusalFailure(reason, current[0], policies[0] ?? DEFAULT_POLICY, debitSign * item.amount),
  };
}

const transferRow: ItemRow<TransferItem> = {
  accounts: (item) => transferAccounts({ ...item, idempotencyKey: null }),
  decide: (item) => decideTransfer({ ...item, idempotencyKey: null }),
  legs: (item) => [
    { userId: item.payerUserId, currency: item.currency, kind: "adjust", amount: -item.amount },
    { userId: item.payeeUserId, currency: item.currency, kind: "adjust", amount: item.amount },
  ],
  failure: (item, reason, current, policies) => {
    const outcome = transferOutcome({ ...item, idempotencyKey: null }, { type: "rejected", reason, current, policies });
    return outcome.ok ? { kind: "balance_overflow" } : outcome.failure;
  },
};

const ITEM_ROWS: { readonly [Kind in BatchItemKind]: ItemRow<Extract<BatchItem, { kind: Kind }>> } = {
  // A load and a credit adjustment report their amount as is; an authorization as a debit.
  load: accountRow(decideLoad, 1n),
  authorize: accountRow(decideAuthorize, -1n),
  adjust: accountRow(decideAdjust, 1n),
  transfer: transferRow,
};

/** The table's row for `item`, typed for it. */
export function itemRow(item: BatchItem): ItemRow<BatchItem> {
  return ITEM_ROWS[item.kind];
}

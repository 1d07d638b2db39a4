/**
 * The hold operations over the storage port: place a hold (a manual-capture Authorize), capture,
 * void, and the sweeper's expiry. Each is one store mutation whose rule (`./hold.ts`) the store
 * runs in its write transaction; this file maps the store's results to typed outcomes.
 */
import type { Entry, EntryKind, Hold, LedgerStore, MutationResult, Verdict } from "../store/store.js";
import type { AccountPolicy, AccountState } from "../store/store.js";
import { attempt } from "./attempt.js";
import {
  captureLimit,
  decideCapture,
  decideExpire,
  decidePlaceHold,
  decideVoid,
  remainingOf,
  type HoldRejectReason,
} from "./hold.js";
import type { HoldActionInput, HoldAuthorizeInput, HoldSettings } from "./hold-input.js";
import { failure, success, type LedgerFailure, type Outcome, type ReusedKeyField } from "./outcome.js";
import { refusalFailure, type RejectReason } from "./policy.js";

/** A hold call's result: its entry (the first one, when replayed) and the hold as read after it. */
export interface HoldReceipt {
  readonly entry: Entry;
  /** Undefined for a declined authorization, which placed no hold. */
  readonly hold: Hold | undefined;
  readonly replayed: boolean;
}

type Decide = (
  current: AccountState | undefined,
  nowMs: number,
  policy: AccountPolicy,
  hold: Hold | undefined,
) => Verdict<HoldRejectReason>;

const POLICY_REASONS: ReadonlySet<string> = new Set([
  "insufficient_funds",
  "balance_overflow",
  "account_frozen",
  "account_closed",
  "overdraft_limit_exceeded",
]);

export class HoldLedger {
  /** Told of each hold placed, with its expiry: the sweeper wakes by then. */
  onHoldPlaced: ((expiresAtMs: number) => void) | undefined;

  constructor(
    private readonly store: LedgerStore,
    readonly settings: HoldSettings,
    /** The ledger's clock, for validating a requested expiry; the store decides with its own. */
    readonly nowMs: () => number = Date.now,
  ) {}

  /** Places a hold, or records its decline; the hold id is the entry's id. */
  async authorize(input: HoldAuthorizeInput): Promise<Outcome<HoldReceipt>> {
    const account = { userId: input.userId, currency: input.currency };
    const decide = decidePlaceHold(input.amount, input.expiry);
    const mutated = await attempt(() => this.store.mutate({ account, idempotencyKey: input.idempotencyKey, decide }));
    if (!mutated.ok) return mutated;
    const result = mutated.value;
    if (result.type === "rejected") return failure(this.refusal(result, 0n, -input.amount));
    if (result.type === "existing") {
      const field = differingField(result.entry, "hold", input.currency, input.amount, undefined);
      if (field !== undefined) return reused(input.idempotencyKey, field);
    }
    const receipt = await this.receipt(result.entry, result.type === "existing");
    if (receipt.ok && receipt.value.hold !== undefined) this.onHoldPlaced?.(receipt.value.hold.expiresAtMs);
    return receipt;
  }

  capture(input: HoldActionInput): Promise<Outcome<HoldReceipt>> {
    return this.act(input, "hold_capture", (currency) =>
      decideCapture({
        userId: input.userId,
        currency,
        amount: input.amount,
        final: input.final,
        overcaptureBps: this.settings.overcaptureBps,
      }),
    );
  }

  void(input: HoldActionInput): Promise<Outcome<HoldReceipt>> {
    return this.act(input, "hold_void", (currency) => decideVoid(input.userId, currency));
  }

  /**
   * The sweeper's release of a due hold. True when this call released it; false when the hold was
   * no longer active (captured, voided, or released by another sweeper) or not due.
   */
  async expire(hold: Hold): Promise<Outcome<boolean>> {
    const account = { userId: hold.userId, currency: hold.currency };
    const mutated = await attempt(() =>
      this.store.mutate({ account, idempotencyKey: null, holdId: hold.holdId, decide: decideExpire() }),
    );
    return mutated.ok ? success(mutated.value.type === "applied") : mutated;
  }

  /** Active holds, earliest expiry first, for the sweeper. */
  activeHoldsByExpiry(limit: number): Promise<Outcome<Hold[]>> {
    return attempt(() => this.store.activeHoldsByExpiry(limit));
  }

  private async act(
    input: HoldActionInput,
    kind: EntryKind,
    decide: (currency: string) => Decide,
  ): Promise<Outcome<HoldReceipt>> {
    // The hold's currency names the account to lock; its state is read again under the lock.
    const found = await attempt(() => this.store.getHold(input.holdId));
    if (!found.ok) return found;
    const hold = found.value;
    if (hold === undefined || hold.userId !== input.userId) {
      return failure({ kind: "hold_not_found", holdId: input.holdId });
    }
    const account = { userId: input.userId, currency: hold.currency };
    const mutated = await attempt(() =>
      this.store.mutate({
        account,
        idempotencyKey: input.idempotencyKey,
        holdId: input.holdId,
        decide: decide(hold.currency),
      }),
    );
    if (!mutated.ok) return mutated;
    const result = mutated.value;
    if (result.type === "rejected") return failure(this.refusal(result, input.holdId, -input.amount));
    if (result.type === "existing") {
      const amount = kind === "hold_capture" ? input.amount : undefined;
      const field = differingField(result.entry, kind, hold.currency, amount, input.holdId);
      if (field !== undefined) return reused(input.idempotencyKey, field);
    }
    return this.receipt(result.entry, result.type === "existing");
  }

  private async receipt(entry: Entry, replayed: boolean): Promise<Outcome<HoldReceipt>> {
    if (entry.holdId === undefined) return success({ entry, hold: undefined, replayed });
    const read = await attempt(() => this.store.getHold(entry.holdId ?? 0n));
    return read.ok ? success({ entry, hold: read.value, replayed }) : read;
  }

  private refusal(
    result: Extract<MutationResult<HoldRejectReason>, { type: "rejected" }>,
    holdId: bigint,
    signedAmount: bigint,
  ): LedgerFailure {
    const { reason, hold, current, policy } = result;
    return holdFailure(reason, { current, policy, hold, holdId, signedAmount }, this.settings.overcaptureBps);
  }
}

/** What a hold refusal was decided on: the account, its policy and the hold as read. */
export interface HoldRefusalBasis {
  readonly current: AccountState | undefined;
  readonly policy: AccountPolicy;
  readonly hold: Hold | undefined;
  readonly holdId: bigint;
  /** The debit the call asked for, negative. */
  readonly signedAmount: bigint;
}

/** The caller's failure for a hold call's refusal; ApplyBatch explains its hold items with it too. */
export function holdFailure(reason: HoldRejectReason, basis: HoldRefusalBasis, overcaptureBps: bigint): LedgerFailure {
  const { hold, holdId } = basis;
  if (POLICY_REASONS.has(reason)) {
    return refusalFailure(reason as RejectReason, basis.current, basis.policy, basis.signedAmount);
  }
  if (reason === "hold_not_found" || reason === "hold_not_due" || hold === undefined) {
    return { kind: "hold_not_found", holdId };
  }
  return {
    kind: "hold_refused",
    reason: reason as Extract<LedgerFailure, { kind: "hold_refused" }>["reason"],
    holdId,
    amount: hold.amount,
    captured: hold.captured,
    remaining: reason === "hold_expired" ? 0n : remainingOf(hold),
    captureLimit: captureLimit(hold.amount, overcaptureBps),
  };
}

function reused(idempotencyKey: string | null, field: ReusedKeyField): Outcome<HoldReceipt> {
  return failure({ kind: "idempotency_key_reused", idempotencyKey: idempotencyKey ?? "", field });
}

/** A replay must repeat the call: the same method, hold, currency and amount. */
function differingField(
  entry: Entry,
  kind: EntryKind,
  currency: string,
  amount: bigint | undefined,
  holdId: bigint | undefined,
): ReusedKeyField | undefined {
  if (entry.kind !== kind || entry.groupId !== undefined) return "method";
  if (holdId !== undefined && entry.holdId !== holdId) return "hold_id";
  if (entry.currency !== currency) return "currency";
  if (amount !== undefined && entry.amount !== amount) return "amount";
  return undefined;
}

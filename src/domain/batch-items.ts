/**
 * The kinds of mutation a batch may hold, as one small table: for each, the accounts it touches,
 * its decision (composed from the same rules that Load, Authorize, AdjustBalance and Transfer
 * use, so a batch can never be more lenient than the single calls), the legs it records, and how
 * its refusal is explained. The hold kinds (a manual-capture authorization, a capture, a void)
 * are decided by the same rules as Authorize, Capture and Void (`./hold.ts`), on the hold the
 * store read in the batch's transaction as the batch's earlier items left it.
 */
import { DEFAULT_POLICY } from "../store/store.js";
import type {
  AccountKey,
  AccountPolicy,
  AccountState,
  EntryKind,
  GroupVerdict,
  Hold,
  Verdict,
} from "../store/store.js";
import { decideCapture, decidePlaceHold, decideVoid, type HoldExpiry, type HoldRejectReason } from "./hold.js";
import { holdFailure } from "./hold-ledger.js";
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

/** A manual-capture authorization: places a hold, whose id is its entry's. */
export interface HoldItem {
  readonly kind: "hold";
  readonly userId: string;
  readonly currency: string;
  /** Minor units to reserve: greater than zero. */
  readonly amount: bigint;
  readonly expiry: HoldExpiry;
}

/**
 * A capture (`final` releases the rest) or a void of a stored hold. The currency is the hold's,
 * learned before the batch runs so that its account can be locked; the over-capture tolerance
 * is the service's setting.
 */
export interface HoldActionItem {
  readonly kind: "capture" | "void";
  readonly userId: string;
  readonly holdId: bigint;
  readonly currency: string;
  /** Minor units to capture; 0 for a void. */
  readonly amount: bigint;
  readonly final: boolean;
  readonly overcaptureBps: bigint;
}

export type BatchItem = AccountItem | TransferItem | HoldItem | HoldActionItem;
export type BatchItemKind = BatchItem["kind"];

/** What a leg records, in the form a keyed replay compares: account, kind and signed amount. */
export interface LegShape extends AccountKey {
  readonly kind: EntryKind;
  /** Undefined when the item does not fix it (a void releases whatever is left). */
  readonly amount: bigint | undefined;
  /** The hold a capture or void acts on. */
  readonly holdId?: bigint;
}

type GroupDecide = (
  current: readonly (AccountState | undefined)[],
  nowMs: number,
  policies: readonly AccountPolicy[],
  hold: Hold | undefined,
) => GroupVerdict<HoldRejectReason>;

interface ItemRow<Item extends BatchItem> {
  /** The accounts the item reads and writes, in the order its decision takes them. */
  accounts(item: Item): AccountKey[];
  decide(item: Item): GroupDecide;
  /** The stored hold the item acts on, if any. */
  holdId(item: Item): bigint | undefined;
  /** The legs the item records when applied. */
  legs(item: Item): LegShape[];
  /** The caller's failure for a refusal, given the states and policies of `accounts(item)`. */
  failure(
    item: Item,
    reason: HoldRejectReason,
    current: readonly (AccountState | undefined)[],
    policies: readonly AccountPolicy[],
    hold: Hold | undefined,
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
    holdId: () => undefined,
    legs: (item) => [{ userId: item.userId, currency: item.currency, kind: item.kind, amount: item.amount }],
    failure: (item, reason, current, policies) =>
      refusalFailure(reason as RejectReason, current[0], policies[0] ?? DEFAULT_POLICY, debitSign * item.amount),
  };
}

const transferRow: ItemRow<TransferItem> = {
  accounts: (item) => transferAccounts({ ...item, idempotencyKey: null }),
  decide: (item) => decideTransfer({ ...item, idempotencyKey: null }),
  holdId: () => undefined,
  legs: (item) => [
    { userId: item.payerUserId, currency: item.currency, kind: "adjust", amount: -item.amount },
    { userId: item.payeeUserId, currency: item.currency, kind: "adjust", amount: item.amount },
  ],
  failure: (item, reason, current, policies) => {
    const rejected = { type: "rejected", reason: reason as RejectReason, current, policies } as const;
    const outcome = transferOutcome({ ...item, idempotencyKey: null }, rejected);
    return outcome.ok ? { kind: "balance_overflow" } : outcome.failure;
  },
};

type HoldDecide = (
  current: AccountState | undefined,
  nowMs: number,
  policy: AccountPolicy,
  hold: Hold | undefined,
) => Verdict<HoldRejectReason>;

/** A hold rule as a one-leg group decision; a placement the account cannot cover fails the batch. */
function holdLeg(item: HoldItem | HoldActionItem, decide: HoldDecide): GroupDecide {
  const account = { userId: item.userId, currency: item.currency };
  const holdId = item.kind === "hold" ? null : item.holdId;
  return (current, nowMs, policies, hold) => {
    const before = current[0];
    const policy = policies[0] ?? DEFAULT_POLICY;
    const verdict = decide(before, nowMs, policy, hold);
    if (verdict.type === "reject") return verdict;
    if (verdict.entry.status === "declined") {
      return { type: "reject", reason: debitRefusal(before, item.amount, policy) ?? "insufficient_funds" };
    }
    const leg = { account, entry: verdict.entry, next: verdict.next };
    return {
      type: "post",
      legs: [verdict.hold === undefined ? leg : { ...leg, hold: { holdId, state: verdict.hold } }],
    };
  };
}

function holdRow<Item extends HoldItem | HoldActionItem>(decide: (item: Item) => HoldDecide): ItemRow<Item> {
  return {
    accounts: (item) => [{ userId: item.userId, currency: item.currency }],
    decide: (item) => holdLeg(item, decide(item)),
    holdId: (item) => (item.kind === "hold" ? undefined : item.holdId),
    legs: (item) => {
      const account = { userId: item.userId, currency: item.currency };
      if (item.kind === "hold") return [{ ...account, kind: "hold", amount: item.amount }];
      const kind = item.kind === "capture" ? "hold_capture" : "hold_void";
      return [{ ...account, kind, amount: item.kind === "capture" ? item.amount : undefined, holdId: item.holdId }];
    },
    failure: (item, reason, current, policies, hold) => {
      const overcaptureBps = item.kind === "hold" ? 0n : item.overcaptureBps;
      const holdId = item.kind === "hold" ? 0n : item.holdId;
      const basis = {
        current: current[0],
        policy: policies[0] ?? DEFAULT_POLICY,
        hold,
        holdId,
        signedAmount: -item.amount,
      };
      return holdFailure(reason, basis, overcaptureBps);
    },
  };
}

const holdActionRow = holdRow<HoldActionItem>((item) =>
  item.kind === "capture"
    ? decideCapture({ ...item, overcaptureBps: item.overcaptureBps })
    : decideVoid(item.userId, item.currency),
);

const ITEM_ROWS: { readonly [Kind in BatchItemKind]: ItemRow<Extract<BatchItem, { kind: Kind }>> } = {
  // A load and a credit adjustment report their amount as is; an authorization as a debit.
  load: accountRow(decideLoad, 1n),
  authorize: accountRow(decideAuthorize, -1n),
  adjust: accountRow(decideAdjust, 1n),
  transfer: transferRow,
  hold: holdRow<HoldItem>((item) => decidePlaceHold(item.amount, item.expiry)),
  capture: holdActionRow,
  void: holdActionRow,
};

/** The table's row for `item`, typed for it. */
export function itemRow(item: BatchItem): ItemRow<BatchItem> {
  return ITEM_ROWS[item.kind];
}

/**
 * Holds: a manual-capture authorization reserves an amount (the available balance drops, the
 * balance does not), captures debit it (partially, repeatedly, optionally final), a void or the
 * expiry releases what is left. Pure rules, run by the store inside its write transaction with
 * the account, its policy and the hold read under the account's lock, at the commit time: a
 * capture at or after the expiry instant is refused even if the sweeper has not released the
 * hold yet, and of two sweepers the second finds the hold already released.
 *
 * Every change is an entry: `hold` (held += amount, or a recorded decline), `hold_capture`
 * (balance -= amount, held -= what it used of the hold), `hold_void` and `hold_expire`
 * (held -= what was left). Held is the fold of those entries, like the balance.
 */
import type { AccountPolicy, AccountState, EntryDraft, Hold, HoldState, Verdict } from "../store/store.js";
import { applyNewEntry } from "./account.js";
import type { HoldRefusal } from "./outcome.js";
import { debitRefusal, type RejectReason } from "./policy.js";

/** Why a hold mutation was refused: a policy refusal, the hold's own state, or nothing to expire. */
export type HoldRejectReason = RejectReason | HoldRefusal | "hold_not_found" | "hold_not_due";

/** Basis points: 10,000 is 100%. */
const BPS_WHOLE = 10_000n;

/** The most that may be captured from a hold of `amount` in total, with the tolerance in bps. */
export function captureLimit(amount: bigint, overcaptureBps: bigint): bigint {
  return amount + (amount * overcaptureBps) / BPS_WHOLE;
}

/** What an active hold still reserves; a hold that is no longer active reserves nothing. */
export function remainingOf(hold: HoldState): bigint {
  if (hold.status !== "active") return 0n;
  const remaining = hold.amount - hold.captured;
  return remaining > 0n ? remaining : 0n;
}

/** When a hold placed at `nowMs` expires: the instant asked for, or after the lifetime given. */
export type HoldExpiry = { readonly atMs: number } | { readonly ttlMs: number };

function post(
  current: AccountState | undefined,
  entry: EntryDraft,
  nowMs: number,
  hold?: HoldState,
): Verdict<HoldRejectReason> {
  const next = applyNewEntry(current, entry, nowMs);
  if (next === undefined) return { type: "reject", reason: "balance_overflow" };
  return hold === undefined ? { type: "post", entry, next } : { type: "post", entry, next, hold };
}

/**
 * Places a hold when the available balance (down to minus the overdraft limit) covers the amount;
 * otherwise records a declined `hold` entry, as an immediate authorization records its decline.
 * A frozen or closed account refuses it outright, recording nothing.
 */
export function decidePlaceHold(amount: bigint, expiry: HoldExpiry) {
  return (current: AccountState | undefined, nowMs: number, policy: AccountPolicy): Verdict<HoldRejectReason> => {
    const refused = debitRefusal(current, amount, policy);
    if (refused === "account_closed" || refused === "account_frozen") return { type: "reject", reason: refused };
    if (refused !== undefined) {
      return post(current, { kind: "hold", status: "declined", amount, delta: 0n, heldDelta: 0n }, nowMs);
    }
    const expiresAtMs = "atMs" in expiry ? expiry.atMs : nowMs + expiry.ttlMs;
    const entry: EntryDraft = { kind: "hold", status: "applied", amount, delta: 0n, heldDelta: amount };
    return post(current, entry, nowMs, { amount, captured: 0n, status: "active", expiresAtMs });
  };
}

/**
 * Why this user may not act on `hold` at `nowMs`, or `undefined`. Another user's hold is
 * `hold_not_found`, so that hold ids tell nobody about other users' holds. An active hold whose
 * expiry instant has passed is expired, whether or not the sweeper has released it yet.
 */
export function holdRefusal(
  hold: Hold | undefined,
  userId: string,
  currency: string,
  nowMs: number,
): HoldRejectReason | undefined {
  if (hold === undefined || hold.userId !== userId || hold.currency !== currency) return "hold_not_found";
  switch (hold.status) {
    case "voided":
      return "hold_voided";
    case "expired":
      return "hold_expired";
    case "captured":
      return "hold_captured";
    case "active":
      return nowMs >= hold.expiresAtMs ? "hold_expired" : undefined;
  }
}

export interface CaptureRule {
  readonly userId: string;
  readonly currency: string;
  readonly amount: bigint;
  /** Release what is left after this capture. */
  readonly final: boolean;
  readonly overcaptureBps: bigint;
}

/**
 * A capture debits `amount` and releases what it used of the hold (all of what is left when
 * final). The total captured may pass the hold by the tolerance; that excess was never reserved,
 * so it is a new debit, checked against the available balance and the policy like any other
 * (a frozen account may still capture what was reserved before the freeze). A closed account
 * takes nothing. The hold is used up once the captures reach its amount, or by a final capture.
 */
export function decideCapture(rule: CaptureRule) {
  return (
    current: AccountState | undefined,
    nowMs: number,
    policy: AccountPolicy,
    hold: Hold | undefined,
  ): Verdict<HoldRejectReason> => {
    const refused = holdRefusal(hold, rule.userId, rule.currency, nowMs);
    if (refused !== undefined || hold === undefined) return { type: "reject", reason: refused ?? "hold_not_found" };
    if (policy.state === "closed") return { type: "reject", reason: "account_closed" };
    const captured = hold.captured + rule.amount;
    if (captured > captureLimit(hold.amount, rule.overcaptureBps)) {
      return { type: "reject", reason: "capture_exceeds_hold" };
    }
    const remaining = remainingOf(hold);
    const covered = rule.amount < remaining ? rule.amount : remaining;
    const excess = rule.amount - covered;
    if (excess > 0n) {
      const excessRefused = debitRefusal(current, excess, policy);
      if (excessRefused !== undefined) return { type: "reject", reason: excessRefused };
    }
    const released = rule.final ? remaining : covered;
    const entry: EntryDraft = {
      kind: "hold_capture",
      status: "applied",
      amount: rule.amount,
      delta: -rule.amount,
      heldDelta: -released,
    };
    const usedUp = rule.final || captured >= hold.amount;
    return post(current, entry, nowMs, { ...holdStateOf(hold), captured, status: usedUp ? "captured" : "active" });
  };
}

/** A void releases what is left of an active hold. Releasing is never a debit: any policy allows it. */
export function decideVoid(userId: string, currency: string) {
  return (
    current: AccountState | undefined,
    nowMs: number,
    _policy: AccountPolicy,
    hold: Hold | undefined,
  ): Verdict<HoldRejectReason> => {
    const refused = holdRefusal(hold, userId, currency, nowMs);
    if (refused !== undefined || hold === undefined) return { type: "reject", reason: refused ?? "hold_not_found" };
    return release(current, nowMs, hold, "hold_void", "voided");
  };
}

/**
 * The sweeper's release of a hold whose expiry instant has passed, decided at the commit time.
 * Anything else is a no-op refusal: the hold was captured, voided or already expired (another
 * sweeper was first), or is not due (its expiry was read before a clock step).
 */
export function decideExpire() {
  return (
    current: AccountState | undefined,
    nowMs: number,
    _policy: AccountPolicy,
    hold: Hold | undefined,
  ): Verdict<HoldRejectReason> => {
    if (hold === undefined) return { type: "reject", reason: "hold_not_found" };
    if (hold.status !== "active") return { type: "reject", reason: `hold_${hold.status}` as HoldRefusal };
    if (nowMs < hold.expiresAtMs) return { type: "reject", reason: "hold_not_due" };
    return release(current, nowMs, hold, "hold_expire", "expired");
  };
}

function release(
  current: AccountState | undefined,
  nowMs: number,
  hold: Hold,
  kind: "hold_void" | "hold_expire",
  status: "voided" | "expired",
): Verdict<HoldRejectReason> {
  const remaining = remainingOf(hold);
  const entry: EntryDraft = { kind, status: "applied", amount: remaining, delta: 0n, heldDelta: -remaining };
  return post(current, entry, nowMs, { ...holdStateOf(hold), status });
}

function holdStateOf(hold: Hold): HoldState {
  return { amount: hold.amount, captured: hold.captured, status: hold.status, expiresAtMs: hold.expiresAtMs };
}

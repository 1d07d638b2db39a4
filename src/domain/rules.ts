/**
 * The rules of each mutation, as pure functions of the account's current state.
 *
 * The store calls them inside its write transaction, so the state they see is exactly the state
 * they change: no other write can come between the check and the debit.
 */
import type { AccountState, EntryDraft, Verdict } from "../store/store.js";
import { applyNewEntry, balanceDelta } from "./account.js";

/** Why a mutation was refused; mapped to gRPC codes in `src/rpc/errors.ts`. */
export type RejectReason = "insufficient_funds" | "balance_overflow";

function post(current: AccountState | undefined, entry: EntryDraft, nowMs: number): Verdict<RejectReason> {
  const next = applyNewEntry(current, entry, nowMs);
  return next === undefined ? { type: "reject", reason: "balance_overflow" } : { type: "post", entry, next };
}

/** A load always credits, unless a total would overflow int64. */
export function decideLoad(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number): Verdict<RejectReason> =>
    post(current, { kind: "load", status: "applied", amount, delta: balanceDelta("load", amount) }, nowMs);
}

/**
 * An authorization is approved when the balance covers it and otherwise recorded as declined:
 * a decline is an entry too, because card networks require every decision to be kept.
 */
export function decideAuthorize(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number): Verdict<RejectReason> => {
    const balance = current?.balance ?? 0n;
    const approved = balance >= amount;
    const entry: EntryDraft = {
      kind: "authorize",
      status: approved ? "applied" : "declined",
      amount,
      delta: approved ? balanceDelta("authorize", amount) : 0n,
    };
    return post(current, entry, nowMs);
  };
}

/**
 * An adjustment adds, or subtracts only while the balance stays at or above zero. A refused
 * subtraction records nothing: it is an error to the caller, not a fact about the account.
 */
export function decideAdjust(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number): Verdict<RejectReason> => {
    const balance = current?.balance ?? 0n;
    if (amount < 0n && balance + amount < 0n) return { type: "reject", reason: "insufficient_funds" };
    return post(current, { kind: "adjust", status: "applied", amount, delta: balanceDelta("adjust", amount) }, nowMs);
  };
}

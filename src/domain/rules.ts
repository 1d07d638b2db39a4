/**
 * The rules of each mutation, as pure functions of the account's current state.
 *
 * The store calls them inside its write transaction, so the state they see is exactly the state
 * they change: no other write can come between the check and the debit.
 */
import { DEFAULT_POLICY, type AccountState, type EntryDraft, type Verdict } from "../store/store.js";
import { applyNewEntry, balanceDelta } from "./account.js";
import { creditRefusal, debitRefusal, type RejectReason } from "./policy.js";

export type { RejectReason } from "./policy.js";

function post(current: AccountState | undefined, entry: EntryDraft, nowMs: number): Verdict<RejectReason> {
  const next = applyNewEntry(current, entry, nowMs);
  return next === undefined ? { type: "reject", reason: "balance_overflow" } : { type: "post", entry, next };
}

/** A load credits unless the account is closed or a total would overflow int64. */
export function decideLoad(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number, policy = DEFAULT_POLICY): Verdict<RejectReason> => {
    const refused = creditRefusal(policy);
    if (refused !== undefined) return { type: "reject", reason: refused };
    return post(current, { kind: "load", status: "applied", amount, delta: balanceDelta("load", amount) }, nowMs);
  };
}

/**
 * An authorization is approved when the available balance (balance - held, down to minus the overdraft limit) covers it
 * and otherwise recorded as declined: a decline is an entry too, because card networks require
 * every decision to be kept. A frozen or closed account refuses it outright, recording nothing.
 */
export function decideAuthorize(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number, policy = DEFAULT_POLICY): Verdict<RejectReason> => {
    const refused = debitRefusal(current, amount, policy);
    if (refused === "account_closed" || refused === "account_frozen") return { type: "reject", reason: refused };
    const approved = refused === undefined;
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
 * An adjustment adds (unless the account is closed), or subtracts only while the policy allows
 * the debit. A refused adjustment records nothing: it is an error to the caller, not a fact
 * about the account.
 */
export function decideAdjust(amount: bigint) {
  return (current: AccountState | undefined, nowMs: number, policy = DEFAULT_POLICY): Verdict<RejectReason> => {
    const refused = amount < 0n ? debitRefusal(current, -amount, policy) : creditRefusal(policy);
    if (refused !== undefined) return { type: "reject", reason: refused };
    return post(current, { kind: "adjust", status: "applied", amount, delta: balanceDelta("adjust", amount) }, nowMs);
  };
}

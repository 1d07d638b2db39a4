/**
 * A transfer moves an amount from one user's account to another's in the same currency, as one
 * group of two entries that the store appends together or not at all: the payer's debit and the
 * payee's credit. Both legs are recorded as adjustments (the payer's negative, the payee's
 * positive), so the account fold and `verify` need no new kind; the group id that the store
 * writes on both legs is the transfer id. The sum of all balances is unchanged by construction.
 */
import type { AccountKey, AccountState, GroupVerdict } from "../store/store.js";
import { applyNewEntry, balanceDelta } from "./account.js";
import type { RejectReason } from "./rules.js";

export interface TransferInput {
  readonly payerUserId: string;
  readonly payeeUserId: string;
  readonly currency: string;
  /** Minor units to move: greater than zero. */
  readonly amount: bigint;
  readonly idempotencyKey: string | null;
}

/** The accounts a transfer touches, in the order its decision reads them: payer, then payee. */
export function transferAccounts(input: TransferInput): [AccountKey, AccountKey] {
  return [
    { userId: input.payerUserId, currency: input.currency },
    { userId: input.payeeUserId, currency: input.currency },
  ];
}

/**
 * Refused with `insufficient_funds` when the payer's balance does not cover the amount (a
 * transfer never takes a payer below zero) and with `balance_overflow` when the payee's balance
 * would leave int64. Nothing is recorded for a refusal.
 */
export function decideTransfer(input: TransferInput) {
  const [payer, payee] = transferAccounts(input);
  const { amount } = input;
  return (current: readonly (AccountState | undefined)[], nowMs: number): GroupVerdict<RejectReason> => {
    const payerBefore = current[0];
    const payeeBefore = current[1];
    if ((payerBefore?.balance ?? 0n) < amount) return { type: "reject", reason: "insufficient_funds" };
    const debit = {
      kind: "adjust",
      status: "applied",
      amount: -amount,
      delta: balanceDelta("adjust", -amount),
    } as const;
    const credit = { kind: "adjust", status: "applied", amount, delta: balanceDelta("adjust", amount) } as const;
    const payerNext = applyNewEntry(payerBefore, debit, nowMs);
    const payeeNext = applyNewEntry(payeeBefore, credit, nowMs);
    if (payerNext === undefined || payeeNext === undefined) return { type: "reject", reason: "balance_overflow" };
    return {
      type: "post",
      legs: [
        { account: payer, entry: debit, next: payerNext },
        { account: payee, entry: credit, next: payeeNext },
      ],
    };
  };
}

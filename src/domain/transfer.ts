/**
 * A transfer moves an amount from one user's account to another's in the same currency, as one
 * group of two entries that the store appends together or not at all: the payer's debit and the
 * payee's credit. Both legs are recorded as adjustments (the payer's negative, the payee's
 * positive), so the account fold and `verify` need no new kind; the group id that the store
 * writes on both legs is the transfer id. The sum of all balances is unchanged by construction.
 */
import { DEFAULT_POLICY } from "../store/store.js";
import type { AccountKey, AccountPolicy, AccountState, Entry, GroupResult, GroupVerdict } from "../store/store.js";
import { creditRefusal, debitRefusal, refusalFailure } from "./policy.js";
import { applyNewEntry, balanceDelta } from "./account.js";
import { failure, success, type Outcome, type ReusedKeyField } from "./outcome.js";
import type { RejectReason } from "./rules.js";
import {
  AMOUNT_MINOR_MAX_DEFAULT,
  checkCurrency,
  checkIdempotencyKey,
  checkUserId,
  Violations,
  type Parsed,
} from "./validate.js";

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
 * Refused when the payer's policy refuses the debit (frozen, closed, below minus its overdraft
 * limit: `insufficient_funds` when it has none), when the payee's account is closed, and with
 * `balance_overflow` when the payee's balance would leave int64. Nothing is recorded for a refusal.
 */
export function decideTransfer(input: TransferInput) {
  const [payer, payee] = transferAccounts(input);
  const { amount } = input;
  return (
    current: readonly (AccountState | undefined)[],
    nowMs: number,
    policies: readonly AccountPolicy[] = [],
  ): GroupVerdict<RejectReason> => {
    const payerBefore = current[0];
    const payeeBefore = current[1];
    const refused =
      debitRefusal(payerBefore, amount, policies[0] ?? DEFAULT_POLICY) ?? creditRefusal(policies[1] ?? DEFAULT_POLICY);
    if (refused !== undefined) return { type: "reject", reason: refused };
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

/** A transfer's result: its two entries (or the first ones recorded, when replayed). */
export interface TransferReceipt {
  readonly transferId: bigint;
  readonly payerEntry: Entry;
  readonly payeeEntry: Entry;
  readonly replayed: boolean;
}

/** Maps the store's result to the caller's outcome: a replay must repeat the request exactly. */
export function transferOutcome(input: TransferInput, result: GroupResult<RejectReason>): Outcome<TransferReceipt> {
  switch (result.type) {
    case "applied":
    case "existing": {
      const [payerEntry, payeeEntry] = result.entries;
      const replayed = result.type === "existing";
      // A batch's group under the same key may begin with the same two legs: it is not this transfer.
      const field = replayed
        ? result.batchDigest === undefined
          ? differingField(input, result.groupId, payerEntry, payeeEntry)
          : "method"
        : undefined;
      if (field !== undefined || payerEntry === undefined || payeeEntry === undefined || result.groupId === null) {
        return failure({
          kind: "idempotency_key_reused",
          idempotencyKey: input.idempotencyKey ?? "",
          field: field ?? "method",
        });
      }
      return success({ transferId: result.groupId, payerEntry, payeeEntry, replayed });
    }
    case "rejected": {
      // A refusal for the payee's sake (closed) reports the payee's account; any other, the payer's.
      const payeeRefused = result.reason === "account_closed" && result.policies[0]?.state !== "closed";
      const index = payeeRefused ? 1 : 0;
      const policy = result.policies[index] ?? DEFAULT_POLICY;
      const amount = payeeRefused ? input.amount : -input.amount;
      return failure(refusalFailure(result.reason, result.current[index], policy, amount));
    }
  }
}

function differingField(
  input: TransferInput,
  groupId: bigint | null,
  payerEntry: Entry | undefined,
  payeeEntry: Entry | undefined,
): ReusedKeyField | undefined {
  if (groupId === null || payerEntry === undefined || payeeEntry === undefined) return "method";
  if (payerEntry.kind !== "adjust" || payeeEntry.kind !== "adjust") return "method";
  if (payerEntry.currency !== input.currency) return "currency";
  if (payerEntry.amount !== -input.amount) return "amount";
  if (payeeEntry.userId !== input.payeeUserId) return "payee_user_id";
  return undefined;
}

export interface RawTransferInput {
  readonly payerUserId: string;
  readonly payeeUserId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly idempotencyKey: string;
}

/** Validates a transfer request; every problem is reported at once. */
export function parseTransfer(
  raw: RawTransferInput,
  defaultCurrency: string,
  amountMinorMax: bigint = AMOUNT_MINOR_MAX_DEFAULT,
): Parsed<TransferInput> {
  const violations = new Violations();
  checkUserId(violations, raw.payerUserId, "payer_user_id");
  checkUserId(violations, raw.payeeUserId, "payee_user_id");
  if (raw.payerUserId !== "" && raw.payerUserId === raw.payeeUserId) {
    violations.add("payee_user_id", "SAME_AS_PAYER", "payee_user_id must differ from payer_user_id");
  }
  if (raw.amount <= 0n) {
    violations.add("amount", "OUT_OF_RANGE", "amount must be greater than zero");
  } else if (raw.amount > amountMinorMax) {
    violations.add(
      "amount",
      "OUT_OF_RANGE",
      `amount must be at most ${amountMinorMax} minor units (LEDGER_AMOUNT_MINOR_MAX)`,
    );
  }
  const currency = checkCurrency(violations, raw.currency, defaultCurrency);
  const idempotencyKey = checkIdempotencyKey(violations, raw.idempotencyKey);
  return violations.result({
    payerUserId: raw.payerUserId,
    payeeUserId: raw.payeeUserId,
    amount: raw.amount,
    currency,
    idempotencyKey,
  });
}

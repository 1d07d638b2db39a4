/**
 * Account policies in the write path: which debits and credits an account's state and overdraft
 * limit allow, and how a refusal is explained to the caller. Pure; the store reads the policy in
 * the same transaction as the account, so no concurrent write can slip past a freeze or a limit.
 */
import type { AccountPolicy, AccountState } from "../store/store.js";
import type { LedgerFailure } from "./outcome.js";
import { AMOUNT_MINOR_MAX_DEFAULT, checkCurrency, checkUserId, Violations, type Parsed } from "./validate.js";

/** Why a mutation was refused; mapped to gRPC codes in `src/rpc/errors.ts`. */
export type RejectReason =
  "insufficient_funds" | "balance_overflow" | "account_frozen" | "account_closed" | "overdraft_limit_exceeded";

/**
 * What debits may use: the balance minus what active holds reserve. Every debit is checked
 * against it (here, so every rule and every composition of rules inherits the check).
 */
export function availableOf(account: AccountState | undefined): bigint {
  return (account?.balance ?? 0n) - (account?.held ?? 0n);
}

/**
 * Why taking `amount` from `account` is refused, or `undefined` when it is allowed: a closed or
 * frozen account takes no debit, and no debit takes the AVAILABLE balance (balance - held) below
 * minus the overdraft limit. With no overdraft allowed the reason stays INSUFFICIENT_FUNDS, as
 * before policies existed.
 */
export function debitRefusal(
  account: AccountState | undefined,
  amount: bigint,
  policy: AccountPolicy,
): RejectReason | undefined {
  if (policy.state === "closed") return "account_closed";
  if (policy.state === "frozen") return "account_frozen";
  if (availableOf(account) - amount >= -policy.overdraftLimit) return undefined;
  return policy.overdraftLimit === 0n ? "insufficient_funds" : "overdraft_limit_exceeded";
}

/** A closed account takes no credit either; a frozen one still does. */
export function creditRefusal(policy: AccountPolicy): RejectReason | undefined {
  return policy.state === "closed" ? "account_closed" : undefined;
}

/**
 * The caller's failure for a refusal: the balance, the available balance, the limit and the
 * amount (negative for a debit), so that a decline explains itself.
 */
export function refusalFailure(
  reason: RejectReason,
  account: AccountState | undefined,
  policy: AccountPolicy,
  amount: bigint,
): LedgerFailure {
  const available = availableOf(account);
  switch (reason) {
    case "insufficient_funds":
      return { kind: "insufficient_funds", balance: account?.balance ?? 0n, available, amount };
    case "balance_overflow":
      return { kind: "balance_overflow" };
    case "account_frozen":
    case "account_closed":
    case "overdraft_limit_exceeded":
      return { kind: "account_policy", reason, available, overdraftLimit: policy.overdraftLimit, amount };
  }
}

/** A validated SetAccountPolicy request. */
export interface PolicyInput extends AccountPolicy {
  readonly userId: string;
  readonly currency: string;
}

export interface RawPolicyInput {
  readonly userId: string;
  readonly currency: string;
  readonly overdraftLimit: bigint;
  /** `undefined` when the caller left the status unspecified. */
  readonly state: AccountPolicy["state"] | undefined;
}

/** Validates a policy request; every problem is reported at once. */
export function parsePolicy(raw: RawPolicyInput, defaultCurrency: string): Parsed<PolicyInput> {
  const violations = new Violations();
  checkUserId(violations, raw.userId);
  const currency = checkCurrency(violations, raw.currency, defaultCurrency);
  if (raw.overdraftLimit < 0n) {
    violations.add("overdraft_limit", "OUT_OF_RANGE", "overdraft_limit must be zero or more");
  } else if (raw.overdraftLimit > AMOUNT_MINOR_MAX_DEFAULT) {
    violations.add("overdraft_limit", "OUT_OF_RANGE", `overdraft_limit must be at most ${AMOUNT_MINOR_MAX_DEFAULT}`);
  }
  if (raw.state === undefined) violations.add("status", "REQUIRED", "status is required: active, frozen or closed");
  return violations.result({
    userId: raw.userId,
    currency,
    overdraftLimit: raw.overdraftLimit,
    state: raw.state ?? "active",
  });
}

/**
 * The typed outcomes of the ledger's operations. Every operating error a caller can meet is one
 * of these; `src/rpc/errors.ts` is the one table that turns them into gRPC codes and details.
 */
import type { FieldViolation } from "./validate.js";

/** The field of a request that differs from the first one sent with its idempotency key. */
export type ReusedKeyField = "method" | "currency" | "amount" | "payee_user_id" | "items";

export type LedgerFailure =
  | { readonly kind: "invalid_argument"; readonly violations: readonly FieldViolation[] }
  | { readonly kind: "insufficient_funds"; readonly balance: bigint; readonly amount: bigint }
  | { readonly kind: "balance_overflow" }
  | {
      readonly kind: "account_policy";
      readonly reason: "account_frozen" | "account_closed" | "overdraft_limit_exceeded";
      /** The balance available to debits (no holds exist yet, so the balance). */
      readonly available: bigint;
      readonly overdraftLimit: bigint;
      /** Negative for a debit. */
      readonly amount: bigint;
    }
  /** A batch refused as a whole because of its item `itemIndex` (from 0): nothing was applied. */
  | { readonly kind: "batch_item_failed"; readonly itemIndex: number; readonly failure: LedgerFailure }
  | { readonly kind: "idempotency_key_reused"; readonly idempotencyKey: string; readonly field: ReusedKeyField }
  | { readonly kind: "account_not_found"; readonly userId: string; readonly currency: string | null }
  | { readonly kind: "entry_not_found"; readonly entryId: bigint }
  | { readonly kind: "unavailable"; readonly message: string }
  | { readonly kind: "outcome_unknown"; readonly message: string }
  | { readonly kind: "overloaded"; readonly message: string };

export type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: LedgerFailure };

export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function failure<T>(value: LedgerFailure): Outcome<T> {
  return { ok: false, failure: value };
}

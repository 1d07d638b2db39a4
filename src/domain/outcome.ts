/**
 * The typed outcomes of the ledger's operations. Every operating error a caller can meet is one
 * of these; `src/rpc/errors.ts` is the one table that turns them into gRPC codes and details.
 */
import type { FieldViolation } from "./validate.js";

/** The field of a request that differs from the first one sent with its idempotency key. */
export type ReusedKeyField = "method" | "currency" | "amount" | "payee_user_id" | "hold_id" | "items";

/** Why a capture or a void of a hold was refused. */
export type HoldRefusal = "hold_voided" | "hold_expired" | "hold_captured" | "capture_exceeds_hold";

export type LedgerFailure =
  | { readonly kind: "invalid_argument"; readonly violations: readonly FieldViolation[] }
  | {
      readonly kind: "insufficient_funds";
      readonly balance: bigint;
      /** The balance minus active holds: what the debit was checked against. */
      readonly available: bigint;
      readonly amount: bigint;
    }
  | { readonly kind: "balance_overflow" }
  | {
      readonly kind: "account_policy";
      readonly reason: "account_frozen" | "account_closed" | "overdraft_limit_exceeded";
      /** The balance available to debits: balance minus active holds. */
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
  | { readonly kind: "hold_not_found"; readonly holdId: bigint }
  | {
      readonly kind: "hold_refused";
      readonly reason: HoldRefusal;
      readonly holdId: bigint;
      readonly amount: bigint;
      readonly captured: bigint;
      /** Still reserved (0 unless active). */
      readonly remaining: bigint;
      /** The most that may be captured in total: amount plus the over-capture tolerance. */
      readonly captureLimit: bigint;
    }
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

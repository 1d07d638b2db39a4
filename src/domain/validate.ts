/**
 * Validation of caller input into domain values: the one place where a user id, an amount, a
 * currency or an idempotency key becomes trusted. Field names are the contract's (snake_case),
 * so that `src/rpc` can return them as `google.rpc.BadRequest` field violations unchanged.
 */
import { isKnownCurrency } from "./currency.js";
import { INT64_MIN } from "./money.js";

/** Longest user id we accept, in characters. Vendor ids and UUIDs fit with room to spare. */
export const USER_ID_LENGTH_MAX = 128;
/** Longest idempotency key we accept, in characters. */
export const IDEMPOTENCY_KEY_LENGTH_MAX = 128;

const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]+$/;
// Printable ASCII without space: keys are often UUIDs or request ids, never prose.
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]+$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export interface FieldViolation {
  readonly field: string;
  readonly reason: string;
  readonly description: string;
}

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly violations: FieldViolation[] };

/** Collects violations across fields so a caller learns every problem in one round trip. */
export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, reason: string, description: string): void {
    this.list.push({ field, reason, description });
  }

  result<T>(value: T): Parsed<T> {
    return this.list.length === 0 ? { ok: true, value } : { ok: false, violations: this.list };
  }
}

export function checkUserId(violations: Violations, userId: string, field = "user_id"): void {
  if (userId.length === 0) {
    violations.add(field, "REQUIRED", "user_id is required");
  } else if (userId.length > USER_ID_LENGTH_MAX) {
    violations.add(field, "TOO_LONG", `user_id must be at most ${USER_ID_LENGTH_MAX} characters`);
  } else if (!USER_ID_PATTERN.test(userId)) {
    violations.add(field, "INVALID_FORMAT", "user_id may contain only A-Z, a-z, 0-9 and . _ : @ -");
  }
}

/** Resolves an optional currency: empty means `defaultCurrency`. */
export function checkCurrency(
  violations: Violations,
  currency: string,
  defaultCurrency: string,
  field = "currency",
): string {
  if (currency === "") return defaultCurrency;
  if (!CURRENCY_PATTERN.test(currency)) {
    violations.add(field, "INVALID_FORMAT", "currency must be an upper-case ISO 4217 code such as USD");
  } else if (!isKnownCurrency(currency)) {
    violations.add(field, "UNKNOWN_CURRENCY", `currency ${currency} is not an ISO 4217 currency`);
  }
  return currency;
}

/** Resolves an optional idempotency key: empty means none. */
export function checkIdempotencyKey(violations: Violations, key: string): string | null {
  if (key === "") return null;
  if (key.length > IDEMPOTENCY_KEY_LENGTH_MAX) {
    violations.add(
      "idempotency_key",
      "TOO_LONG",
      `idempotency_key must be at most ${IDEMPOTENCY_KEY_LENGTH_MAX} characters`,
    );
  } else if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    violations.add("idempotency_key", "INVALID_FORMAT", "idempotency_key must be printable ASCII without spaces");
  }
  return key;
}

/**
 * The largest amount one call may move, in minor units (10^15: ten trillion dollars in cents):
 * far below int64, so no single caller can push an account's balance to its limit.
 */
export const AMOUNT_MINOR_MAX_DEFAULT = 10n ** 15n;

export type MutationKind = "load" | "authorize" | "adjust";

/** A validated mutation request. */
export interface MutationInput {
  readonly userId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly idempotencyKey: string | null;
}

export interface RawMutationInput {
  readonly userId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly idempotencyKey: string;
}

export function parseMutation(
  kind: MutationKind,
  raw: RawMutationInput,
  defaultCurrency: string,
  amountMinorMax: bigint = AMOUNT_MINOR_MAX_DEFAULT,
): Parsed<MutationInput> {
  const violations = new Violations();
  checkUserId(violations, raw.userId);
  if (raw.amount > amountMinorMax || raw.amount < -amountMinorMax) {
    violations.add(
      "amount",
      "OUT_OF_RANGE",
      `amount must be at most ${amountMinorMax} minor units either way (LEDGER_AMOUNT_MINOR_MAX)`,
    );
  } else if (kind === "adjust") {
    if (raw.amount === 0n) violations.add("amount", "OUT_OF_RANGE", "amount must not be zero");
    // -2^63 has no positive counterpart in int64, so its debit could not be recorded as spent.
    if (raw.amount === INT64_MIN) violations.add("amount", "OUT_OF_RANGE", "amount must be greater than -2^63");
  } else if (raw.amount <= 0n) {
    violations.add("amount", "OUT_OF_RANGE", "amount must be greater than zero");
  }
  const currency = checkCurrency(violations, raw.currency, defaultCurrency);
  const idempotencyKey = checkIdempotencyKey(violations, raw.idempotencyKey);
  return violations.result({ userId: raw.userId, amount: raw.amount, currency, idempotencyKey });
}

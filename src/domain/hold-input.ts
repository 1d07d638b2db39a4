/**
 * Validation of the hold calls (a manual-capture Authorize, Capture, Void) and the settings that
 * bound them. Every problem is reported at once, as for the other mutations.
 */
import type { HoldExpiry } from "./hold.js";
import {
  AMOUNT_MINOR_MAX_DEFAULT,
  checkIdempotencyKey,
  checkUserId,
  parseMutation,
  Violations,
  type MutationInput,
  type Parsed,
  type RawMutationInput,
} from "./validate.js";

/** The operator's bounds on holds (LEDGER_HOLD_* settings). */
export interface HoldSettings {
  /** A hold's lifetime when the caller gives none, in milliseconds. */
  readonly ttlDefaultMs: number;
  /** The longest lifetime a caller may ask for, in milliseconds. */
  readonly ttlMaxMs: number;
  /** How far captures may pass a hold in total, in basis points of its amount (100 = 1%). */
  readonly overcaptureBps: bigint;
}

/** Seven days by default and thirty at most, as card schemes keep authorizations; no over-capture. */
export const HOLD_SETTINGS_DEFAULT: HoldSettings = {
  ttlDefaultMs: 7 * 24 * 3600 * 1000,
  ttlMaxMs: 30 * 24 * 3600 * 1000,
  overcaptureBps: 0n,
};

/** A validated manual-capture authorization. */
export interface HoldAuthorizeInput extends MutationInput {
  readonly expiry: HoldExpiry;
}

export interface RawHoldAuthorizeInput extends RawMutationInput {
  /** The requested expiry instant, when the caller gave one. */
  readonly expiresAtMs: number | undefined;
  /** 0 when not given. */
  readonly ttlSeconds: bigint;
}

/**
 * Validates a manual-capture authorization. The expiry is checked against `nowMs`, the ledger's
 * clock when the request arrives: it must lie ahead, within the maximum lifetime.
 */
export function parseHoldAuthorize(
  raw: RawHoldAuthorizeInput,
  settings: HoldSettings,
  nowMs: number,
  defaultCurrency: string,
  amountMinorMax: bigint = AMOUNT_MINOR_MAX_DEFAULT,
): Parsed<HoldAuthorizeInput> {
  const base = parseMutation("authorize", raw, defaultCurrency, amountMinorMax);
  const violations = new Violations();
  if (!base.ok) violations.list.push(...base.violations);
  const maxSeconds = Math.floor(settings.ttlMaxMs / 1000);
  let expiry: HoldExpiry = { ttlMs: settings.ttlDefaultMs };
  if (raw.expiresAtMs !== undefined && raw.ttlSeconds !== 0n) {
    violations.add("ttl_seconds", "CONFLICT", "give expires_at or ttl_seconds, not both");
  } else if (raw.expiresAtMs !== undefined) {
    if (raw.expiresAtMs <= nowMs) violations.add("expires_at", "OUT_OF_RANGE", "expires_at must be in the future");
    else if (raw.expiresAtMs - nowMs > settings.ttlMaxMs) {
      violations.add("expires_at", "OUT_OF_RANGE", `expires_at must be at most ${maxSeconds} seconds ahead`);
    }
    expiry = { atMs: raw.expiresAtMs };
  } else if (raw.ttlSeconds !== 0n) {
    if (raw.ttlSeconds < 0n || raw.ttlSeconds > BigInt(maxSeconds)) {
      violations.add("ttl_seconds", "OUT_OF_RANGE", `ttl_seconds must be between 1 and ${maxSeconds}`);
    } else {
      expiry = { ttlMs: Number(raw.ttlSeconds) * 1000 };
    }
  }
  if (!base.ok) return { ok: false, violations: violations.list };
  return violations.result({ ...base.value, expiry });
}

/** The expiry fields belong to manual capture: an immediate Authorize that sets them is a mistake. */
export function checkImmediateAuthorize(raw: { expiresAtMs: number | undefined; ttlSeconds: bigint }): Parsed<null> {
  const violations = new Violations();
  if (raw.expiresAtMs !== undefined) {
    violations.add("expires_at", "MANUAL_CAPTURE_ONLY", "expires_at needs capture_mode CAPTURE_MODE_MANUAL");
  }
  if (raw.ttlSeconds !== 0n) {
    violations.add("ttl_seconds", "MANUAL_CAPTURE_ONLY", "ttl_seconds needs capture_mode CAPTURE_MODE_MANUAL");
  }
  return violations.result(null);
}

/** A validated Capture (with `final`) or Void (amount 0, not final). */
export interface HoldActionInput {
  readonly userId: string;
  readonly holdId: bigint;
  readonly amount: bigint;
  readonly final: boolean;
  readonly idempotencyKey: string | null;
}

export interface RawHoldActionInput {
  readonly userId: string;
  readonly holdId: bigint;
  readonly amount: bigint;
  readonly final: boolean;
  readonly idempotencyKey: string;
}

/** Validates a Capture (`capture` true) or a Void. */
export function parseHoldAction(
  raw: RawHoldActionInput,
  capture: boolean,
  amountMinorMax: bigint = AMOUNT_MINOR_MAX_DEFAULT,
): Parsed<HoldActionInput> {
  const violations = new Violations();
  checkUserId(violations, raw.userId);
  if (raw.holdId <= 0n) violations.add("hold_id", "REQUIRED", "hold_id is required: the id Authorize returned");
  if (capture) {
    if (raw.amount <= 0n) violations.add("amount", "OUT_OF_RANGE", "amount must be greater than zero");
    else if (raw.amount > amountMinorMax) {
      violations.add("amount", "OUT_OF_RANGE", `amount must be at most ${amountMinorMax} minor units`);
    }
  }
  const idempotencyKey = checkIdempotencyKey(violations, raw.idempotencyKey);
  return violations.result({
    userId: raw.userId,
    holdId: raw.holdId,
    amount: capture ? raw.amount : 0n,
    final: capture && raw.final,
    idempotencyKey,
  });
}

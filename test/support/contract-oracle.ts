/**
 * What the contract (proto/ledger/v1/ledger.proto and the README's error table) says each
 * request must get, computed from the request alone: the fuzz test's oracle. Where the answer
 * depends on the ledger's state (a debit may be refused, a key may be taken), the oracle gives
 * the set of codes the contract allows.
 */
import { CaptureMode } from "../../gen/ledger/v1/ledger_pb.js";
import { isKnownCurrency } from "../../src/domain/currency.js";
import { HOLD_SETTINGS_DEFAULT } from "../../src/domain/hold-input.js";
import { AMOUNT_MINOR_MAX_DEFAULT } from "../../src/domain/validate.js";

const INT64_MIN = -(2n ** 63n);

export type MethodName = "Load" | "Authorize" | "AdjustBalance" | "GetBalance" | "GetPayouts";

export interface AnyRequest {
  readonly userId?: string;
  readonly amount?: bigint;
  readonly currency?: string;
  readonly idempotencyKey?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
  /** Authorize's hold fields: a fuzzed byte string can set them as easily as the others. */
  readonly captureMode?: number;
  readonly expiresAt?: { readonly seconds: bigint; readonly nanos: number };
  readonly ttlSeconds?: bigint;
}

/**
 * Whether Authorize's expiry fields are valid for its capture mode: only a manual capture may set
 * them, one or the other, within the default LEDGER_HOLD_TTL_MAX_SECONDS ahead of now.
 */
function validExpiry(request: AnyRequest): boolean {
  const ttlSeconds = request.ttlSeconds ?? 0n;
  if (request.captureMode !== CaptureMode.MANUAL) return request.expiresAt === undefined && ttlSeconds === 0n;
  const maxSeconds = BigInt(HOLD_SETTINGS_DEFAULT.ttlMaxMs / 1000);
  if (request.expiresAt !== undefined) {
    if (ttlSeconds !== 0n) return false;
    const aheadMs = Number(request.expiresAt.seconds) * 1000 + request.expiresAt.nanos / 1e6 - Date.now();
    return aheadMs > 0 && aheadMs <= HOLD_SETTINGS_DEFAULT.ttlMaxMs;
  }
  return ttlSeconds === 0n || (ttlSeconds > 0n && ttlSeconds <= maxSeconds);
}

const validUserId = (userId: string) =>
  userId.length >= 1 && userId.length <= 128 && /^[A-Za-z0-9._:@-]+$/.test(userId);
const validCurrency = (currency: string) =>
  currency === "" || (/^[A-Z]{3}$/.test(currency) && isKnownCurrency(currency));
const validKey = (key: string) => key === "" || (key.length <= 128 && /^[\x21-\x7e]+$/.test(key));

/** The gRPC code names the contract allows for `request` on `method`. */
export function allowedCodes(method: MethodName, request: AnyRequest): readonly string[] {
  const userId = request.userId ?? "";
  const currency = request.currency ?? "";
  const amount = request.amount ?? 0n;
  switch (method) {
    case "Load":
    case "Authorize":
    case "AdjustBalance": {
      // LEDGER_AMOUNT_MINOR_MAX at its default bounds every amount, either way.
      const withinLimit = amount <= AMOUNT_MINOR_MAX_DEFAULT && amount >= -AMOUNT_MINOR_MAX_DEFAULT;
      const amountOk =
        withinLimit && (method === "AdjustBalance" ? amount !== 0n && amount !== INT64_MIN : amount > 0n);
      const fieldsOk = validUserId(userId) && amountOk && validCurrency(currency);
      if (!fieldsOk || !validKey(request.idempotencyKey ?? "") || (method === "Authorize" && !validExpiry(request))) {
        return ["INVALID_ARGUMENT"];
      }
      // A key taken by another request, or a total past int64; AdjustBalance and a hold may also
      // be refused (an immediate Authorize answers DECLINED instead).
      const stateful = ["OK", "ALREADY_EXISTS", "OUT_OF_RANGE"];
      const refusable = method === "AdjustBalance" || request.captureMode === CaptureMode.MANUAL;
      return refusable ? [...stateful, "FAILED_PRECONDITION"] : stateful;
    }
    case "GetBalance":
      return validUserId(userId) && validCurrency(currency) ? ["OK", "NOT_FOUND"] : ["INVALID_ARGUMENT"];
    case "GetPayouts": {
      const filtersOk =
        (userId === "" || validUserId(userId)) && validCurrency(currency) && (request.pageSize ?? 0) >= 0;
      if (!filtersOk) return ["INVALID_ARGUMENT"];
      // Only a token this server issued is accepted; a random one may happen to parse as one.
      return (request.pageToken ?? "") === "" ? ["OK"] : ["OK", "INVALID_ARGUMENT"];
    }
  }
}

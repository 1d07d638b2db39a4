/**
 * Validation of read requests into domain queries, as `parseMutation` does for writes: `src/rpc`
 * parses every request here before calling the ledger, so that the ledger works on trusted
 * domain values and never on a protobuf message.
 */
import type { AccountKey } from "../store/store.js";
import { decodePageToken } from "./page-token.js";
import { checkCurrency, checkUserId, Violations, type Parsed } from "./validate.js";

/** The page size of GetPayouts when the caller names none. */
export const PAYOUT_PAGE_SIZE_DEFAULT = 100;
/** The largest page of GetPayouts: bounds the work and the response of one call. */
export const PAYOUT_PAGE_SIZE_MAX = 1000;

/** One user's balances: every currency, or only `currency`. */
export interface BalanceQuery {
  readonly userId: string;
  readonly currency?: string;
  /** The balances as they were at this instant, from the entries recorded by then. */
  readonly asOfMs?: number;
}

/** A page of outstanding payouts, optionally for one user or one currency. */
export interface PayoutPageQuery {
  readonly userId?: string;
  readonly currency?: string;
  /** Rows in the page, from 1 to PAYOUT_PAGE_SIZE_MAX. */
  readonly limit: number;
  /** The page starts strictly after this account. */
  readonly after?: AccountKey;
}

export function parseBalanceQuery(raw: {
  readonly userId: string;
  readonly currency: string;
  readonly asOfMs?: number;
}): Parsed<BalanceQuery> {
  const violations = new Violations();
  checkUserId(violations, raw.userId);
  const currency = raw.currency === "" ? undefined : checkCurrency(violations, raw.currency, "");
  return violations.result({
    userId: raw.userId,
    ...(currency === undefined ? {} : { currency }),
    ...(raw.asOfMs === undefined ? {} : { asOfMs: raw.asOfMs }),
  });
}

export function parsePayoutQuery(raw: {
  readonly userId: string;
  readonly currency: string;
  readonly pageSize: number;
  readonly pageToken: string;
}): Parsed<PayoutPageQuery> {
  const violations = new Violations();
  if (raw.userId !== "") checkUserId(violations, raw.userId);
  const currency = raw.currency === "" ? undefined : checkCurrency(violations, raw.currency, "");
  if (raw.pageSize < 0) violations.add("page_size", "OUT_OF_RANGE", "page_size must not be negative");
  const after = raw.pageToken === "" ? undefined : decodePageToken(raw.pageToken);
  if (raw.pageToken !== "" && after === undefined) {
    violations.add("page_token", "INVALID_FORMAT", "page_token is not one this server issued");
  }
  return violations.result({
    ...(raw.userId === "" ? {} : { userId: raw.userId }),
    ...(currency === undefined ? {} : { currency }),
    limit: Math.min(raw.pageSize || PAYOUT_PAGE_SIZE_DEFAULT, PAYOUT_PAGE_SIZE_MAX),
    ...(after === undefined ? {} : { after }),
  });
}

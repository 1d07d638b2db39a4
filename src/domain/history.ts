/**
 * History reads: validation of a ListEntries or GetEntry request into a domain query, and the
 * opaque page token of a history page. The token names the last entry id of a page and the
 * order it was read in, so the next page resumes strictly after that entry (keyset pagination:
 * correct while entries are written, and one index seek per page however deep).
 */
import type { EntryKind, EntryOrder, EntryQuery } from "../store/store.js";
import { checkCurrency, checkUserId, Violations, type Parsed } from "./validate.js";

/** The page size of ListEntries when the caller names none. */
export const ENTRY_PAGE_SIZE_DEFAULT = 100;
/** The largest page of ListEntries: bounds the work and the response of one call. */
export const ENTRY_PAGE_SIZE_MAX = 1000;

/** A ListEntries request after transport decoding: plain values, not a protobuf message. */
export interface RawEntryListing {
  readonly userId: string;
  readonly currency: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  /** `undefined` marks a kind the wire named but this server does not know. */
  readonly kinds: readonly (EntryKind | undefined)[];
  readonly order: EntryOrder;
  readonly pageSize: number;
  readonly pageToken: string;
}

export function parseEntryListing(raw: RawEntryListing): Parsed<EntryQuery> {
  const violations = new Violations();
  checkUserId(violations, raw.userId);
  const currency = raw.currency === "" ? undefined : checkCurrency(violations, raw.currency, "");
  if (raw.pageSize < 0) violations.add("page_size", "OUT_OF_RANGE", "page_size must not be negative");
  if (raw.kinds.includes(undefined)) violations.add("kinds", "INVALID_VALUE", "kinds names an unknown entry kind");
  if (raw.fromMs !== undefined && raw.toMs !== undefined && raw.fromMs > raw.toMs) {
    violations.add("end_time", "OUT_OF_RANGE", "end_time must not be before start_time");
  }
  const afterId = raw.pageToken === "" ? undefined : decodeEntryPageToken(raw.pageToken, raw.order);
  if (raw.pageToken !== "" && afterId === undefined) {
    violations.add("page_token", "INVALID_FORMAT", "page_token is not one this server issued for this order");
  }
  const kinds = raw.kinds.filter((kind): kind is EntryKind => kind !== undefined);
  return violations.result({
    userId: raw.userId,
    ...(currency === undefined ? {} : { currency }),
    ...(raw.fromMs === undefined ? {} : { fromMs: raw.fromMs }),
    ...(raw.toMs === undefined ? {} : { toMs: raw.toMs }),
    ...(kinds.length === 0 ? {} : { kinds: [...new Set(kinds)] }),
    order: raw.order,
    limit: Math.min(raw.pageSize || ENTRY_PAGE_SIZE_DEFAULT, ENTRY_PAGE_SIZE_MAX),
    ...(afterId === undefined ? {} : { afterId }),
  });
}

export function parseEntryId(entryId: bigint): Parsed<bigint> {
  const violations = new Violations();
  if (entryId <= 0n) violations.add("entry_id", "OUT_OF_RANGE", "entry_id must be greater than zero");
  return violations.result(entryId);
}

export function encodeEntryPageToken(lastId: bigint, order: EntryOrder): string {
  return Buffer.from(JSON.stringify(["entries", order, lastId.toString()]), "utf8").toString("base64url");
}

/** The id a token resumes after, or `undefined` for a token we did not issue for this order. */
export function decodeEntryPageToken(token: string, order: EntryOrder): bigint | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      Array.isArray(decoded) &&
      decoded.length === 3 &&
      decoded[0] === "entries" &&
      decoded[1] === order &&
      typeof decoded[2] === "string" &&
      /^[1-9][0-9]{0,18}$/.test(decoded[2])
    ) {
      return BigInt(decoded[2]);
    }
  } catch {
    // Not JSON: fall through to "not ours".
  }
  return undefined;
}

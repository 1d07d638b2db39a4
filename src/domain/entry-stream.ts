/**
 * The live entry stream: every entry after a cursor, in id order, as entries are recorded.
 *
 * Pull, not push: the stream reads the ledger one page at a time, up to the store's horizon
 * (`EntryFeed`: durable, and no lower id can still appear), and reads the next page only when
 * the transport has taken the previous entries. A slow consumer is therefore throttled by the
 * transport's flow control and costs at most one page in memory, however far behind it falls;
 * there is no per-subscriber queue to overflow, so no consumer needs cutting for memory. One
 * that falls behind catches up from the database at its own pace, like a consumer that starts
 * from an old cursor. Waiting for new entries costs nothing per subscriber either: one probe of
 * the store's feed wakes them all.
 */
import { StoreUnavailableError } from "../store/errors.js";
import type { Entry, LedgerStore } from "../store/store.js";
import type { LedgerFailure } from "./outcome.js";
import { checkCurrency, checkUserId, Violations, type Parsed } from "./validate.js";

/** Entries read per store query: bounds each subscriber's memory and each query's work. */
export const STREAM_PAGE_SIZE = 256;

/** A StreamEntries request after transport decoding. */
export interface RawStreamRequest {
  readonly userId: string;
  readonly currency: string;
  /** `undefined`: start after the newest entry now. */
  readonly afterId: bigint | undefined;
  readonly maxEntries: bigint;
}

export interface StreamQuery {
  readonly userId?: string;
  readonly currency?: string;
  readonly afterId?: bigint;
  /** 0n: no limit. */
  readonly maxEntries: bigint;
}

export function parseStreamRequest(raw: RawStreamRequest): Parsed<StreamQuery> {
  const violations = new Violations();
  if (raw.userId !== "") checkUserId(violations, raw.userId);
  const currency = raw.currency === "" ? undefined : checkCurrency(violations, raw.currency, "");
  if (raw.afterId !== undefined && raw.afterId < 0n) {
    violations.add("after_entry_id", "OUT_OF_RANGE", "after_entry_id must not be negative");
  }
  if (raw.maxEntries < 0n) violations.add("max_entries", "OUT_OF_RANGE", "max_entries must not be negative");
  return violations.result({
    ...(raw.userId === "" ? {} : { userId: raw.userId }),
    ...(currency === undefined ? {} : { currency }),
    ...(raw.afterId === undefined ? {} : { afterId: raw.afterId }),
    maxEntries: raw.maxEntries,
  });
}

/** An open stream: where it started (the entry id it sends entries after) and its steps. */
export interface EntryStream {
  readonly startId: bigint;
  readonly steps: AsyncGenerator<StreamStep>;
  /**
   * Whether entries may be waiting to be sent: some of the page read are not handed out yet, or
   * the horizon has moved past what was scanned. False while the stream only waits for entries,
   * so an idle stream is never taken for a stalled one. The horizon is read from the database
   * when the page is spent: the shared horizon moves only while some stream waits for entries,
   * and a stream held by its transport at the last entry of a page does not. Never rejects.
   */
  waiting(): Promise<boolean>;
}

/** How far a stream has read, shared between its steps and `EntryStream.waiting`. */
interface StreamPosition {
  scannedId: bigint;
  unsentInPage: number;
}

/** Opens the stream of entries after `startId`; see `streamEntries`. */
export function openEntryStream(
  store: LedgerStore,
  query: StreamQuery,
  startId: bigint,
  signal: AbortSignal,
): EntryStream {
  const position: StreamPosition = { scannedId: startId, unsentInPage: 0 };
  return {
    startId,
    steps: streamEntries(store, query, position, signal),
    waiting: async () =>
      position.unsentInPage > 0 ||
      store.feed.horizonId > position.scannedId ||
      (await store.feed.refreshHorizon()) > position.scannedId,
  };
}

/** What the stream hands its transport: an entry, or the failure that ends it. */
export type StreamStep =
  { readonly type: "entry"; readonly entry: Entry } | { readonly type: "failed"; readonly failure: LedgerFailure };

/**
 * Where a stream starts: after `query.afterId`, or after the horizon now. A cursor beyond the
 * newest entry recorded names no entry this ledger gave out: INVALID_ARGUMENT, rather than a
 * stream that would silently skip the entries up to it.
 */
export async function streamStart(store: LedgerStore, query: StreamQuery): Promise<bigint | LedgerFailure> {
  try {
    if (query.afterId === undefined) return await store.feed.currentHorizon();
    const latestId = await store.feed.latestId();
    if (query.afterId > latestId) {
      const description = `after_entry_id ${query.afterId} is beyond the newest entry (${latestId})`;
      return {
        kind: "invalid_argument",
        violations: [{ field: "after_entry_id", reason: "UNKNOWN_CURSOR", description }],
      };
    }
    return query.afterId;
  } catch (error) {
    return { kind: "unavailable", message: unavailableMessage(error) };
  }
}

/**
 * The entries after `position.scannedId` that match `query`, in id order, until `signal` aborts or
 * `query.maxEntries` have been sent. Store failures end it with a `failed` step.
 */
async function* streamEntries(
  store: LedgerStore,
  query: StreamQuery,
  position: StreamPosition,
  signal: AbortSignal,
): AsyncGenerator<StreamStep> {
  let scannedId = position.scannedId;
  let sent = 0n;
  while (!signal.aborted) {
    const horizon = await store.feed.waitPast(scannedId, signal);
    if (signal.aborted) return;
    let page: Entry[];
    try {
      page = await store.scanEntries({
        afterId: scannedId,
        throughId: horizon,
        limit: STREAM_PAGE_SIZE,
        ...(query.userId === undefined ? {} : { userId: query.userId }),
        ...(query.currency === undefined ? {} : { currency: query.currency }),
      });
    } catch (error) {
      yield { type: "failed", failure: { kind: "unavailable", message: unavailableMessage(error) } };
      return;
    }
    // A short page reached the horizon: every entry up to it is read (the filter passed over the
    // rest), so the next wait is for entries beyond it.
    const last = page.at(-1);
    scannedId = page.length < STREAM_PAGE_SIZE || last === undefined ? horizon : last.id;
    position.scannedId = scannedId;
    position.unsentInPage = page.length;
    for (const entry of page) {
      position.unsentInPage -= 1;
      yield { type: "entry", entry };
      sent += 1n;
      if (sent === query.maxEntries) return;
    }
  }
}

function unavailableMessage(error: unknown): string {
  // Store errors carry a message written for callers; anything else says nothing of the driver.
  return error instanceof StoreUnavailableError ? error.message : "the ledger could not read its database";
}

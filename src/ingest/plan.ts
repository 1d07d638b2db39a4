/**
 * The poller's decisions, as pure functions of its cursor and the clock: which range to read
 * next, when a closing pass has proven its range complete, and how long to back off.
 *
 * Two kinds of read share the budget. A *closing pass* reads [closedUntil, end) page by page,
 * only once `end` is older than the lateness bound, and moves `closedUntil` to `end` when the
 * distinct rows it saw reach the vendor's own totalItems (so no row slipped between pages while
 * offsets shifted). A *fresh pass* reads what is newer than the last fresh pass, so users see
 * transactions within seconds; it proves nothing and moves no cursor, because the closing pass
 * will read the same range again once late rows can no longer arrive.
 *
 * The budget decides between them. Closing reads every row once, after its lateness bound, so
 * it has first call on the budget; it aims each pass at one nearly full page (the vendor's rate,
 * measured from the last page's totalItems, says how long a range that is), so no request is
 * spent on a page of a few rows. Fresh reads only run as often as the budget affords *beside*
 * closing, at the poll interval or a multiple of it; when it affords none (about 2,000
 * transactions a minute and up at 5 requests a minute), rows are read once, by closing alone,
 * and the lag is the lateness bound plus the time one page of rows takes to gather.
 */
import type { ClosingPass, VendorCursor } from "../store/ingest-port.js";

export interface PlanSettings {
  readonly latenessMs: number;
  readonly windowMs: number;
  readonly backfillWindowMs: number;
  readonly pollIntervalMs: number;
  readonly pageSize: number;
  readonly requestsPerWindow: number;
  readonly budgetWindowMs: number;
}

/** In-memory state of fresh reads: lost on restart, which only costs one re-read. */
export interface FreshState {
  /** Everything before this was read by a fresh pass (or closed). */
  readonly freshFromMs: number;
  /** When the last fresh pass started; -Infinity before the first. */
  readonly lastFreshAtMs: number;
  /** The vendor's rows per millisecond, from the last page's totalItems; null until measured. */
  readonly rowsPerMs: number | null;
}

/**
 * The share of a page a closing pass aims to fill: a range estimated at a full page would spill
 * a few rows onto a second request whenever the vendor's rate rose a little.
 */
export const PAGE_FILL_TARGET = 0.95;

/**
 * Requests per budget window kept free of fresh reads, for reconciliation (which needs about
 * eleven counts to find one late row in a day of closed windows) and retries.
 */
export const FRESH_RESERVE_REQUESTS = 2;

/** How long a range one closing page covers at `rowsPerMs`: between one second and `windowMs`. */
export function pageSpanMs(rowsPerMs: number | null, settings: PlanSettings): number {
  if (rowsPerMs === null || rowsPerMs <= 0) return settings.windowMs;
  const spanMs = floorToSecond((settings.pageSize * PAGE_FILL_TARGET) / rowsPerMs);
  return Math.min(settings.windowMs, Math.max(1000, spanMs));
}

/**
 * The least time between fresh reads that the budget affords beside closing every row once:
 * the poll interval, or twice, four times... it, up to the budget window, or one page span
 * (so each read is one page: at 1,000 a minute a 60 s read would spill onto a second page);
 * Infinity when none fits (the rows are then read once, by closing).
 */
export function freshIntervalMs(rowsPerMs: number | null, settings: PlanSettings): number {
  const { pollIntervalMs, budgetWindowMs, pageSize, requestsPerWindow } = settings;
  if (rowsPerMs === null) return pollIntervalMs;
  const closingPerWindow = (rowsPerMs * budgetWindowMs) / (pageSize * PAGE_FILL_TARGET);
  const affordable = requestsPerWindow - FRESH_RESERVE_REQUESTS - closingPerWindow;
  const candidates = [pageSpanMs(rowsPerMs, settings)];
  for (let intervalMs = Math.max(1, pollIntervalMs); intervalMs <= budgetWindowMs; intervalMs *= 2)
    candidates.push(intervalMs);
  candidates.sort((a, b) => a - b);
  for (const intervalMs of candidates) {
    if (intervalMs < pollIntervalMs) continue;
    const pagesPerRead = Math.max(1, Math.ceil((rowsPerMs * intervalMs) / pageSize));
    if ((pagesPerRead * budgetWindowMs) / intervalMs <= affordable) return intervalMs;
  }
  return Infinity;
}

/** `follow` runs forever (the service); `catch-up` closes what it can, reads the rest once, and ends. */
export type PollMode = "follow" | "catch-up";

export type Plan =
  | { readonly type: "closing"; readonly pass: ClosingPass; readonly isNew: boolean }
  | { readonly type: "fresh"; readonly startMs: number; readonly endMs: number }
  | { readonly type: "idle"; readonly untilMs: number }
  | { readonly type: "done" };

/** Unverified passes over one range before it is closed anyway: a vendor whose counts never agree must not stall us. */
export const CLOSING_ATTEMPTS_MAX = 3;

export const floorToSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

export function planNext(
  cursor: VendorCursor,
  fresh: FreshState,
  nowMs: number,
  settings: PlanSettings,
  mode: PollMode,
): Plan {
  if (cursor.pass !== null) return { type: "closing", pass: cursor.pass, isNew: false };
  const closableEndMs = floorToSecond(nowMs - settings.latenessMs);
  const closableMs = closableEndMs - cursor.closedUntilMs;
  const spanMs = pageSpanMs(fresh.rowsPerMs, settings);
  if (closableMs >= spanMs || (mode === "catch-up" && closableMs > 0)) {
    // Following, a pass covers whole page spans, so each of its requests comes back full.
    const wholeSpansMs = mode === "follow" ? Math.floor(closableMs / spanMs) * spanMs : closableMs;
    const endMs = cursor.closedUntilMs + Math.min(wholeSpansMs, settings.backfillWindowMs);
    return { type: "closing", isNew: true, pass: newPass(cursor.closedUntilMs, endMs, 0) };
  }
  const freshStartMs = Math.max(fresh.freshFromMs, cursor.closedUntilMs);
  const freshEndMs = floorToSecond(nowMs);
  if (mode === "catch-up") {
    return freshEndMs > freshStartMs ? { type: "fresh", startMs: freshStartMs, endMs: freshEndMs } : { type: "done" };
  }
  const intervalMs = freshIntervalMs(fresh.rowsPerMs, settings);
  const freshDueMs = intervalMs === Infinity ? Infinity : fresh.lastFreshAtMs + intervalMs;
  if (nowMs >= freshDueMs && freshEndMs > freshStartMs)
    return { type: "fresh", startMs: freshStartMs, endMs: freshEndMs };
  const closingDueMs = cursor.closedUntilMs + spanMs + settings.latenessMs;
  // At least the next whole second: a fresh range shorter than that cannot be asked for.
  return {
    type: "idle",
    untilMs: Math.max(Math.min(Math.max(freshDueMs, freshEndMs + 1000), closingDueMs), nowMs + 1),
  };
}

export function newPass(startMs: number, endMs: number, attempts: number): ClosingPass {
  return { startMs, endMs, nextPage: 1, totalItems: null, dirty: false, attempts };
}

export interface PageMeta {
  readonly page: number;
  readonly itemCount: number;
  readonly totalItems: number;
  readonly totalPages: number;
}

export type PassStep =
  | { readonly type: "next"; readonly cursor: VendorCursor }
  | { readonly type: "closed"; readonly cursor: VendorCursor; readonly verified: boolean }
  | { readonly type: "again"; readonly cursor: VendorCursor };

/**
 * Where a closing pass goes after a page. The range is complete as soon as the distinct rows
 * seen (across every attempt over it) reach the vendor's totalItems while that count held
 * still: the rows seen are a subset of the range's rows, so equal counts mean the same set, in
 * whatever order the pages served them. Otherwise the pass goes on to the next page, or starts
 * again from page 1 keeping what it saw, or after `CLOSING_ATTEMPTS_MAX` tries closes anyway.
 */
export function stepClosingPass(
  cursor: VendorCursor,
  pass: ClosingPass,
  meta: PageMeta,
  distinctSeen: number,
): PassStep {
  const totalItems = pass.totalItems ?? meta.totalItems;
  const dirty = pass.dirty || meta.totalItems !== totalItems;
  const closed = { ...cursor, closedUntilMs: pass.endMs, pass: null };
  if (!dirty && distinctSeen >= totalItems) return { type: "closed", verified: true, cursor: closed };
  const last = meta.page >= meta.totalPages || meta.itemCount === 0;
  if (!last) {
    return { type: "next", cursor: { ...cursor, pass: { ...pass, nextPage: meta.page + 1, totalItems, dirty } } };
  }
  if (pass.attempts + 1 >= CLOSING_ATTEMPTS_MAX) return { type: "closed", verified: false, cursor: closed };
  // A count that moved means the range itself changed: start over with an empty seen set.
  const again = dirty
    ? newPass(pass.startMs, pass.endMs, pass.attempts + 1)
    : { ...newPass(pass.startMs, pass.endMs, pass.attempts + 1), totalItems };
  return { type: "again", cursor: { ...cursor, pass: again } };
}

/**
 * Exponential backoff with full jitter between half and all of the step, never shorter than
 * what the vendor asked for in Retry-After.
 */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const stepMs = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.round(stepMs / 2 + (random() * stepMs) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

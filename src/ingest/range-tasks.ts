/**
 * What the poller does with a closed range rather than the present: an operator's one-off task
 * (`--reopen`, `--reconcile`), a reopen another process queued while this one held the lease,
 * and a step of continuous reconciliation. Each re-read commits like any other page, so a row is
 * applied exactly once whichever read finds it first.
 */
import type { ReopenRequest, VendorCursor } from "../store/ingest-port.js";
import { floorToSecond } from "./plan.js";
import type { PollerContext } from "./poller-context.js";
import type { Range, ReconcileQueue } from "./reconcile.js";
import { createdAtOfRaw } from "./vendor-row.js";

/**
 * `reopen`: read [startMs, endMs) again now, page by page, applying what was missed (each row
 * once). `reconcile`: count-check it against the vendor, narrowed down to windows, writing nothing.
 */
export interface RangeTask {
  readonly type: "reopen" | "reconcile";
  readonly startMs: number;
  readonly endMs: number;
}

/** A window whose vendor count differs from what the ledger holds, found by a `reconcile` task. */
export interface RangeDifference {
  readonly start: string;
  readonly end: string;
  readonly vendorCount: number;
  readonly heldCount: number;
}

/** Least time between two looks for queued reopen requests, while following. */
export const REOPEN_CHECK_INTERVAL_MS = 1000;

/** Runs an operator's task to its end; a `reconcile` task adds the windows that differ to `differences`. */
export async function runRangeTask(
  context: PollerContext,
  task: RangeTask,
  differences: RangeDifference[],
): Promise<void> {
  const range = { startMs: floorToSecond(task.startMs), endMs: floorToSecond(task.endMs) };
  if (task.type === "reopen") {
    for (let pageNumber = 1; !context.stopped; pageNumber += 1) {
      const page = await context.request("task", range.startMs, range.endMs, pageNumber);
      if (page === undefined) return;
      await context.commitRecovering(page);
      if (pageNumber >= page.totalPages || page.items.items.length === 0) return;
    }
    return;
  }
  const ranges: Range[] = [range];
  for (let next = ranges.shift(); next !== undefined && !context.stopped; next = ranges.shift()) {
    const page = await context.request("task", next.startMs, next.endMs, 1, 1);
    if (page === undefined) return;
    const held = await context.ingest.countHeldRows(next.startMs, next.endMs, createdAtOfRaw);
    if (held === page.totalItems) {
      context.status.rangesVerified += 1;
      continue;
    }
    context.status.rangesDiffering += 1;
    const midMs = floorToSecond(next.startMs + (next.endMs - next.startMs) / 2);
    if (next.endMs - next.startMs <= context.config.windowMs || midMs <= next.startMs) {
      differences.push({ ...context.rangeFields(next), vendorCount: page.totalItems, heldCount: held });
    } else {
      ranges.unshift({ startMs: midMs, endMs: next.endMs }, { startMs: next.startMs, endMs: midMs });
    }
  }
}

/**
 * Reopen requests queued in the store by `npm run ingest -- --reopen` beside this poller: read
 * one page at a time in the present's idle time, oldest request first, then marked done with
 * the rows they recovered.
 */
export class QueuedReopens {
  private current: { request: ReopenRequest; page: number; recovered: number } | undefined;
  private checkedAtMs = -Infinity;

  constructor(private readonly context: PollerContext) {}

  /** One page of the oldest queued request, if there is one; answers whether it did anything. */
  async step(nowMs: number): Promise<boolean> {
    const { context } = this;
    if (this.current === undefined) {
      if (nowMs - this.checkedAtMs < REOPEN_CHECK_INTERVAL_MS) return false;
      this.checkedAtMs = nowMs;
      const request = await context.ingest.nextReopen();
      if (request === undefined) return false;
      this.current = { request, page: 1, recovered: 0 };
      context.logger.info({ id: request.id, ...context.rangeFields(request) }, "reading a queued reopen request");
    }
    const { request, page: pageNumber } = this.current;
    const page = await context.request("task", request.startMs, request.endMs, pageNumber);
    if (page === undefined) return true;
    this.current.recovered += await context.commitRecovering(page);
    if (pageNumber < page.totalPages && page.items.items.length > 0) {
      this.current.page += 1;
      return true;
    }
    await context.ingest.finishReopen(request.id, context.clock(), this.current.recovered);
    context.status.reopensDone += 1;
    context.logger.info({ id: request.id, recovered: this.current.recovered }, "queued reopen request done");
    this.current = undefined;
    return true;
  }
}

/**
 * One request of reconciliation, only when the budget has a slot to spare beyond it (kept for
 * the present), or just its own slot while a difference found is being narrowed down: the
 * present's reads are planned within the budget less FRESH_RESERVE_REQUESTS, so they wait at
 * most one slot. Answers whether it did anything.
 */
export async function reconcileStep(
  context: PollerContext,
  queue: ReconcileQueue,
  cursor: VendorCursor,
  nowMs: number,
): Promise<boolean> {
  const { status, logger } = context;
  const task = queue.next(cursor.closedUntilMs, nowMs);
  if (task === undefined || !(await context.budgetSpare(nowMs, queue.narrowing ? 0 : 1))) return false;
  const { range } = task;
  if (task.type === "count") {
    const page = await context.request("reconcileCount", range.startMs, range.endMs, 1, 1);
    if (page === undefined) return true;
    const held = await context.ingest.countHeldRows(range.startMs, range.endMs, createdAtOfRaw);
    if (queue.counted(range, page.totalItems, held)) {
      status.rangesVerified += 1;
    } else {
      status.rangesDiffering += 1;
      logger.info(
        { ...context.rangeFields(range), vendorCount: page.totalItems, heldCount: held },
        "vendor count differs from the ledger's in closed history; narrowing it down",
      );
    }
    return true;
  }
  const page = await context.request("reconcileRead", range.startMs, range.endMs, task.page);
  if (page === undefined) return true;
  const recovered = await context.commitRecovering(page);
  if (recovered > 0)
    logger.warn({ ...context.rangeFields(range), recovered }, "reconciliation recovered rows that appeared late");
  const last = task.page >= page.totalPages || page.items.items.length === 0;
  queue.pageRead(last);
  if (last) {
    const held = await context.ingest.countHeldRows(range.startMs, range.endMs, createdAtOfRaw);
    queue.settle(range, page.totalItems, held);
    if (held !== page.totalItems)
      logger.warn(
        { ...context.rangeFields(range), vendorCount: page.totalItems, heldCount: held },
        "a re-read did not remove this window's count difference; accepting it until the vendor's count moves",
      );
  }
  return true;
}

/**
 * What the poller does with a closed range rather than the present: an operator's one-off task
 * (`--reopen`, `--reconcile`), a request another process queued while this one held the lease,
 * and a step of continuous reconciliation. Each re-read commits like any other page, so a row is
 * applied exactly once whichever read finds it first.
 */
import type { RangeDifference, ReopenRequest, VendorCursor } from "../store/ingest-port.js";
import { floorToSecond } from "./plan.js";
import type { PollerContext } from "./poller-context.js";
import { RangeCheckRun } from "./range-check.js";
import type { Range, ReconcileQueue } from "./reconcile.js";
import { createdAtOfRaw } from "./vendor-row.js";

export type { RangeDifference } from "../store/ingest-port.js";

/**
 * `reopen`: read [startMs, endMs) again now, page by page, applying what was missed (each row
 * once). `reconcile`: count-check it against the vendor, narrowed down to windows, writing nothing.
 */
export interface RangeTask {
  readonly type: "reopen" | "reconcile";
  readonly startMs: number;
  readonly endMs: number;
}

/** Least time between two looks for queued requests, while following. */
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
  const check = new RangeCheckRun(range);
  while (!check.done && (await check.step(context)));
  differences.push(...check.result().differences);
}

/**
 * Requests queued in the store by `npm run ingest -- --reopen` or `--reconcile` beside this
 * poller, carried out in the present's idle time, oldest first: a reopen a page at a time, a
 * count check a count at a time and only on a slot the budget window has free now (the present's
 * reads, planned with slots kept free, wait at most that one). Each is then marked done with
 * what it found.
 */
export class QueuedReopens {
  private current:
    { request: ReopenRequest; page: number; recovered: number; check: RangeCheckRun | undefined } | undefined;
  private checkedAtMs = -Infinity;

  constructor(private readonly context: PollerContext) {}

  /** One request's next step, if one is queued; answers whether it did anything. */
  async step(nowMs: number): Promise<boolean> {
    const { context } = this;
    if (this.current === undefined) {
      if (nowMs - this.checkedAtMs < REOPEN_CHECK_INTERVAL_MS) return false;
      this.checkedAtMs = nowMs;
      const request = await context.ingest.nextReopen();
      if (request === undefined) return false;
      const check = request.kind === "reconcile" ? new RangeCheckRun(request) : undefined;
      this.current = { request, page: 1, recovered: 0, check };
      context.logger.info(
        { id: request.id, kind: request.kind, ...context.rangeFields(request) },
        "carrying out a queued request",
      );
    }
    const { request, check } = this.current;
    if (check !== undefined) {
      if (!(await context.budgetSpare(nowMs, 0))) return false;
      if (!(await check.step(context))) return true;
      if (check.done) await this.finish(request, check);
      return true;
    }
    const page = await context.request("task", request.startMs, request.endMs, this.current.page);
    if (page === undefined) return true;
    this.current.recovered += await context.commitRecovering(page);
    if (this.current.page < page.totalPages && page.items.items.length > 0) {
      this.current.page += 1;
      return true;
    }
    await this.finish(request, undefined);
    return true;
  }

  private async finish(request: ReopenRequest, check: RangeCheckRun | undefined): Promise<void> {
    const { context } = this;
    const recovered = this.current?.recovered ?? 0;
    const found = check?.result();
    await context.ingest.finishReopen(request.id, context.clock(), recovered, found);
    context.status.reopensDone += 1;
    context.logger.info(
      { id: request.id, kind: request.kind, recovered, differences: found?.differences.length },
      "queued request done",
    );
    this.current = undefined;
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
    await settleAccepted(context, queue, range, page.totalItems, held);
    if (held !== page.totalItems)
      logger.warn(
        { ...context.rangeFields(range), vendorCount: page.totalItems, heldCount: held },
        "a re-read did not remove this window's count difference; accepting it until the vendor's count moves",
      );
  }
  return true;
}

/**
 * Accepts what still differs in `range` after a re-read or a verified closing pass, in memory and
 * in the store (only when that changes something), so a restarted poller knows it too.
 */
export async function settleAccepted(
  context: PollerContext,
  queue: ReconcileQueue,
  range: Range,
  vendorCount: number,
  heldCount: number,
): Promise<void> {
  if (queue.settle(range, vendorCount, heldCount))
    await context.ingest.acceptOffset({ ...range, offset: vendorCount - heldCount });
}

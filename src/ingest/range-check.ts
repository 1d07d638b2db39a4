/**
 * An operator's count check of a closed range (`npm run ingest -- --reconcile FROM TO`): the
 * vendor's `totalItems` of the range against what the ledger holds, a range that differs cut in
 * two at a whole second and both halves counted, down to windows, which are reported with both
 * counts. It writes nothing. One count per `step`, so the lease holder can run a queued check a
 * request at a time in its idle time; the CLI holding the lease runs it to the end.
 */
import type { RangeCheck, RangeDifference } from "../store/ingest-port.js";
import { floorToSecond } from "./plan.js";
import type { PollerContext } from "./poller-context.js";
import type { Range } from "./reconcile.js";
import { createdAtOfRaw } from "./vendor-row.js";

export class RangeCheckRun {
  private readonly ranges: Range[];
  private rangesVerified = 0;
  private rangesDiffering = 0;
  private readonly differences: RangeDifference[] = [];

  constructor(range: Range) {
    this.ranges = [{ startMs: floorToSecond(range.startMs), endMs: floorToSecond(range.endMs) }];
  }

  get done(): boolean {
    return this.ranges.length === 0;
  }

  /** What it found so far (all of it once `done`). */
  result(): RangeCheck {
    const { rangesVerified, rangesDiffering } = this;
    return { rangesVerified, rangesDiffering, differences: [...this.differences] };
  }

  /** Counts the next range (one budgeted request); answers false when the poller stopped first. */
  async step(context: PollerContext): Promise<boolean> {
    const next = this.ranges[0];
    if (next === undefined) return false;
    const page = await context.request("task", next.startMs, next.endMs, 1, 1);
    if (page === undefined) return false;
    this.ranges.shift();
    const held = await context.ingest.countHeldRows(next.startMs, next.endMs, createdAtOfRaw);
    if (held === page.totalItems) {
      this.rangesVerified += 1;
      context.status.rangesVerified += 1;
      return true;
    }
    this.rangesDiffering += 1;
    context.status.rangesDiffering += 1;
    const midMs = floorToSecond(next.startMs + (next.endMs - next.startMs) / 2);
    if (next.endMs - next.startMs <= context.config.windowMs || midMs <= next.startMs) {
      this.differences.push({ ...context.rangeFields(next), vendorCount: page.totalItems, heldCount: held });
    } else {
      this.ranges.unshift({ startMs: midMs, endMs: next.endMs }, { startMs: next.startMs, endMs: midMs });
    }
    return true;
  }
}

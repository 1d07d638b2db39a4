/**
 * Continuous reconciliation: what the poller does with budget the present does not need.
 *
 * A closed range is only as complete as the vendor was when it was read; a row that appears
 * after its window closed (replication lag, a back-dated correction, an outage replayed) would
 * otherwise be lost for good. The vendor's `meta.totalItems` for a range costs one request with
 * `limit=1`, so the reconciler re-counts closed history, newest first, in ranges that double in
 * length going back (a round over 30 days of one-minute windows is about 16 counts), and
 * compares each count with what the ledger holds for the same range. A range whose counts differ
 * is cut in two at a whole second and both halves are counted (newer first), down to one window,
 * which is then read again page by page. The re-read commits like any other page, so a row is
 * applied exactly once whichever read finds it first.
 *
 * A difference a re-read cannot remove (a row whose createdAt the quarantine cannot place, or a
 * vendor that dropped a row) is remembered per window as an accepted offset, so the next round
 * does not bisect down to it again; the memory is lost on restart, which costs one re-read.
 * This queue decides what to ask for; `range-tasks.ts` spends the budget, only when it is spare:
 * two free slots in the budget window for a round's counts, one (this request's) while a found
 * difference is being narrowed down and re-read, so a late row, once seen, is not kept waiting
 * behind the round.
 */
import { floorToSecond } from "./plan.js";

export interface ReconcileSettings {
  /** How far back from closedUntil history is re-counted; 0 turns reconciliation off. */
  readonly reconcileHorizonMs: number;
  /** The smallest range bisected to, and re-read. */
  readonly windowMs: number;
  /** The first instant ingested: nothing before it is counted. */
  readonly startMs: number;
  /** Least time between the starts of two rounds. */
  readonly budgetWindowMs: number;
}

export interface Range {
  readonly startMs: number;
  readonly endMs: number;
}

/** The next request reconciliation wants: a count (limit=1) or a page of a window's re-read. */
export type ReconcileTask =
  | { readonly type: "count"; readonly range: Range }
  | { readonly type: "read"; readonly range: Range; readonly page: number };

const keyOf = (range: Range): string => `${range.startMs}:${range.endMs}`;

export class ReconcileQueue {
  private pending: Range[] = [];
  /** Halves queued by a count that differed, as opposed to a round's own ranges. */
  private readonly halves = new Set<string>();
  private reading: { range: Range; page: number } | undefined;
  private roundStartedAtMs = -Infinity;
  /** Windows whose difference survived a re-read: vendor count minus held count, accepted. */
  private readonly accepted = new Map<string, { range: Range; offset: number }>();

  constructor(private readonly settings: ReconcileSettings) {}

  /** What to ask the vendor next, or undefined when this round is done and the next not yet due. */
  next(closedUntilMs: number, nowMs: number): ReconcileTask | undefined {
    if (this.reading !== undefined) return { type: "read", range: this.reading.range, page: this.reading.page };
    if (this.pending.length === 0) this.startRound(closedUntilMs, nowMs);
    const range = this.pending[0];
    return range === undefined ? undefined : { type: "count", range };
  }

  /** True while a difference found is being narrowed down (a half to count) or its window re-read. */
  get narrowing(): boolean {
    const head = this.pending[0];
    return this.reading !== undefined || (head !== undefined && this.halves.has(keyOf(head)));
  }

  /**
   * The vendor counted `vendorCount` rows in the range at the head of the queue and the ledger
   * holds `heldCount`: answers whether they agree (after accepted offsets), and queues the
   * halves, or the window's re-read, when they do not.
   */
  counted(range: Range, vendorCount: number, heldCount: number): boolean {
    this.pending = this.pending.filter((pending) => keyOf(pending) !== keyOf(range));
    this.halves.delete(keyOf(range));
    if (vendorCount - heldCount === this.acceptedOffsetWithin(range)) return true;
    const midMs = this.cutAt(floorToSecond(range.startMs + (range.endMs - range.startMs) / 2), range);
    if (range.endMs - range.startMs <= this.settings.windowMs || midMs <= range.startMs || midMs >= range.endMs) {
      this.reading = { range, page: 1 };
    } else {
      const halves = [
        { startMs: midMs, endMs: range.endMs },
        { startMs: range.startMs, endMs: midMs },
      ];
      for (const half of halves) this.halves.add(keyOf(half));
      this.pending.unshift(...halves);
    }
    return false;
  }

  /** A page of the window's re-read arrived; `last` when it was the final one. */
  pageRead(last: boolean): void {
    if (this.reading === undefined) return;
    this.reading = last ? undefined : { ...this.reading, page: this.reading.page + 1 };
  }

  /** After a re-read: what still differs is accepted for this window until the vendor's count moves. */
  settle(range: Range, vendorCount: number, heldCount: number): void {
    const offset = vendorCount - heldCount;
    if (offset === 0) this.accepted.delete(keyOf(range));
    else this.accepted.set(keyOf(range), { range, offset });
  }

  /**
   * Where to cut inside `range` near `ms`: an accepted difference counts only for a range that
   * holds its whole window, so a cut through one moves to the nearer of its ends (kept inside
   * `range`, or `ms` when neither end is).
   */
  private cutAt(ms: number, range: Range): number {
    for (const { range: accepted } of this.accepted.values()) {
      if (accepted.startMs >= ms || accepted.endMs <= ms) continue;
      const ends =
        ms - accepted.startMs <= accepted.endMs - ms
          ? [accepted.startMs, accepted.endMs]
          : [accepted.endMs, accepted.startMs];
      for (const end of ends) if (end > range.startMs && end < range.endMs) return end;
      return ms;
    }
    return ms;
  }

  private acceptedOffsetWithin(range: Range): number {
    let offset = 0;
    for (const entry of this.accepted.values()) {
      if (entry.range.startMs >= range.startMs && entry.range.endMs <= range.endMs) offset += entry.offset;
    }
    return offset;
  }

  /** Newest first, each range twice as long as the one after it in time, back to the horizon. */
  private startRound(closedUntilMs: number, nowMs: number): void {
    const { reconcileHorizonMs, windowMs, startMs, budgetWindowMs } = this.settings;
    if (reconcileHorizonMs <= 0 || nowMs - this.roundStartedAtMs < budgetWindowMs) return;
    const floorMs = Math.max(startMs, floorToSecond(closedUntilMs - reconcileHorizonMs));
    let endMs = floorToSecond(closedUntilMs);
    let lengthMs = Math.max(1000, floorToSecond(windowMs));
    while (endMs > floorMs) {
      const begin = Math.max(floorMs, this.cutAt(Math.max(floorMs, endMs - lengthMs), { startMs: floorMs, endMs }));
      this.pending.push({ startMs: begin, endMs });
      endMs = begin;
      lengthMs *= 2;
    }
    if (this.pending.length > 0) this.roundStartedAtMs = nowMs;
  }
}

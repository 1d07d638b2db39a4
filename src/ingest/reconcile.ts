/**
 * Continuous reconciliation: what the poller does with budget the present does not need.
 *
 * A closed range is only as complete as the vendor was when it was read; a row that appears
 * after its window closed (replication lag, a back-dated correction, an outage replayed) would
 * otherwise be lost for good. The vendor's `meta.totalItems` for a range costs one request with
 * `limit=1`, so a round counts the whole horizon, [closedUntil − horizon, closedUntil), in one
 * request and compares it with what the ledger holds for the same range: equal, and the round
 * is done. A range that differs is narrowed down with one count per level: its newer half is
 * counted, and the older half's counts are derived (the parent's minus the newer half's), so the
 * older half is queued only when its derived difference is not zero, and counted instead when
 * the derivation is impossible (rows appeared between the two counts). A differing range whose
 * vendor count fits one page, or that is one window long, is read again page by page instead of
 * being cut further: at a few rows a window, one read recovers many late rows. The re-read
 * commits like any other page, so a row is applied exactly once whichever read finds it first.
 *
 * A difference a re-read cannot remove (a row whose createdAt the quarantine cannot place, or a
 * vendor that dropped a row) is remembered per range as an accepted offset, so the next round
 * does not bisect down to it again; the store keeps them too, so a restart does not either.
 * This queue decides what to ask for; `range-tasks.ts` spends the budget, only when it is spare:
 * two free slots in the budget window for a round's count, one (this request's) while a found
 * difference is being narrowed down and re-read, so a late row, once seen, is not kept waiting.
 */
import type { AcceptedOffset } from "../store/ingest-port.js";
import { AcceptedOffsets } from "./accepted-offsets.js";
import { floorToSecond } from "./plan.js";

export interface ReconcileSettings {
  /** How far back from closedUntil history is re-counted; 0 turns reconciliation off. */
  readonly reconcileHorizonMs: number;
  /** The smallest range bisected to, and re-read. */
  readonly windowMs: number;
  /** Rows per request: a differing range the vendor counts at most this many rows in is read, not cut. */
  readonly pageSize: number;
  /** The first instant ingested: nothing before it is counted. */
  readonly startMs: number;
  /** Least time between the starts of two rounds. */
  readonly budgetWindowMs: number;
}

export interface Range {
  readonly startMs: number;
  readonly endMs: number;
}

/** The next request reconciliation wants: a count (limit=1) or a page of a range's re-read. */
export type ReconcileTask =
  | { readonly type: "count"; readonly range: Range }
  | { readonly type: "read"; readonly range: Range; readonly page: number };

/** A range's vendor and ledger counts: both asked for, or derived from its parent's and sibling's. */
interface Counts {
  readonly range: Range;
  readonly vendorCount: number;
  readonly heldCount: number;
}

/** What is left to do, newest first. */
type Work =
  /**
   * A range to count: a round's whole horizon, or the newer half of a differing `parent` (whose
   * `older` half is then derived rather than counted), or a half whose derivation was impossible.
   */
  | {
      readonly type: "count";
      readonly range: Range;
      readonly narrowing: boolean;
      readonly parent?: Counts;
      readonly older?: Range;
    }
  /** A range known to differ: read again when it fits a page, else its newer half is counted. */
  | { readonly type: "differs"; readonly counts: Counts };

const keyOf = (range: Range): string => `${range.startMs}:${range.endMs}`;

export class ReconcileQueue {
  private work: Work[] = [];
  private reading: { range: Range; page: number } | undefined;
  private roundStartedAtMs = -Infinity;
  /** Ranges whose difference survived a re-read: vendor count minus held count, accepted. */
  private readonly accepted = new AcceptedOffsets();

  constructor(private readonly settings: ReconcileSettings) {}

  /** What to ask the vendor next, or undefined when this round is done and the next not yet due. */
  next(closedUntilMs: number, nowMs: number): ReconcileTask | undefined {
    if (this.reading === undefined && this.work.length === 0) this.startRound(closedUntilMs, nowMs);
    const head = this.work[0];
    if (this.reading === undefined && head?.type === "differs") {
      this.work.shift();
      this.narrow(head.counts);
    }
    if (this.reading !== undefined) return { type: "read", range: this.reading.range, page: this.reading.page };
    const count = this.work[0];
    return count?.type === "count" ? { type: "count", range: count.range } : undefined;
  }

  /** True while a difference found is being narrowed down (a half to count) or re-read. */
  get narrowing(): boolean {
    const head = this.work[0];
    return this.reading !== undefined || head?.type === "differs" || (head?.type === "count" && head.narrowing);
  }

  /**
   * The vendor counted `vendorCount` rows in `range`, a count this queue asked for, and the
   * ledger holds `heldCount`: answers whether they agree (after accepted offsets). A range that
   * differs is queued to be narrowed down; when it was the newer half of a differing range, the
   * older half is derived from the two and queued only if it differs too.
   */
  counted(range: Range, vendorCount: number, heldCount: number): boolean {
    const index = this.work.findIndex((item) => item.type === "count" && keyOf(item.range) === keyOf(range));
    const item = index < 0 ? undefined : this.work.splice(index, 1)[0];
    const counts = { range, vendorCount, heldCount };
    const agrees = this.differenceOf(counts) === 0;
    const older =
      item?.type === "count" && item.parent !== undefined && item.older !== undefined
        ? this.derive(item.parent, counts, item.older)
        : undefined;
    // Newest first: this (newer) range's narrowing before the older half.
    if (older !== undefined) this.work.unshift(older);
    if (!agrees) this.work.unshift({ type: "differs", counts });
    return agrees;
  }

  /** A page of the range's re-read arrived; `last` when it was the final one. */
  pageRead(last: boolean): void {
    if (this.reading === undefined) return;
    this.reading = last ? undefined : { ...this.reading, page: this.reading.page + 1 };
  }

  /**
   * After a re-read (or a verified closing pass): what still differs is accepted for this range
   * until the vendor's count moves (see `AcceptedOffsets.settle`). Answers whether that changed
   * anything (what the store keeps must then change too).
   */
  settle(range: Range, vendorCount: number, heldCount: number): boolean {
    return this.accepted.settle(range, vendorCount - heldCount);
  }

  /** What an earlier poller accepted (kept in the store), for a poller taking over. */
  restore(offsets: readonly AcceptedOffset[]): void {
    this.accepted.restore(offsets);
  }

  /** A differing range: read it when one page holds it or it is one window, else count its newer half. */
  private narrow(counts: Counts): void {
    const { range } = counts;
    const midMs = this.accepted.cutAt(floorToSecond(range.startMs + (range.endMs - range.startMs) / 2), range);
    if (
      counts.vendorCount <= this.settings.pageSize ||
      range.endMs - range.startMs <= this.settings.windowMs ||
      midMs <= range.startMs ||
      midMs >= range.endMs
    ) {
      this.reading = { range, page: 1 };
      return;
    }
    this.work.unshift({
      type: "count",
      range: { startMs: midMs, endMs: range.endMs },
      narrowing: true,
      parent: counts,
      older: { startMs: range.startMs, endMs: midMs },
    });
  }

  /**
   * The older half's counts are the parent's minus the newer half's: queued to narrow down when
   * they differ, dropped when they agree, and counted instead when the derivation cannot be
   * right (a negative count, or a difference the parent's cannot hold: rows appeared between
   * the two counts).
   */
  private derive(parent: Counts, newer: Counts, olderRange: Range): Work | undefined {
    const counts = {
      range: olderRange,
      vendorCount: parent.vendorCount - newer.vendorCount,
      heldCount: parent.heldCount - newer.heldCount,
    };
    const recount: Work = { type: "count", range: olderRange, narrowing: true };
    if (counts.vendorCount < 0 || counts.heldCount < 0) return recount;
    const part = this.differenceOf(counts);
    if (part === 0) return undefined;
    const whole = this.differenceOf(parent);
    if (Math.sign(part) !== Math.sign(whole) || Math.abs(part) > Math.abs(whole)) return recount;
    return { type: "differs", counts };
  }

  private differenceOf(counts: Counts): number {
    return counts.vendorCount - counts.heldCount - this.accepted.within(counts.range);
  }

  /** The whole horizon back from closedUntil, one count; its start moved out of an accepted window. */
  private startRound(closedUntilMs: number, nowMs: number): void {
    const { reconcileHorizonMs, startMs, budgetWindowMs } = this.settings;
    if (reconcileHorizonMs <= 0 || nowMs - this.roundStartedAtMs < budgetWindowMs) return;
    const endMs = floorToSecond(closedUntilMs);
    const beginMs = this.accepted.startOutside(Math.max(startMs, floorToSecond(closedUntilMs - reconcileHorizonMs)));
    if (beginMs >= endMs) return;
    this.work.push({ type: "count", range: { startMs: beginMs, endMs }, narrowing: false });
    this.roundStartedAtMs = nowMs;
  }
}

/**
 * The vendor poller: one loop that plans a read, spends one request from the persisted budget,
 * fetches, validates, and commits the page together with the cursor. It never throws out of its
 * loop: the vendor failing, a bad page, or a busy database are logged, counted in `status()`,
 * and retried with backoff.
 *
 * One poller is active per database: it holds a lease row there, renewed every third of its
 * time to live. The others wait in `standby` and take the lease over once it expires (its holder
 * died). Every write of vendor state checks the lease in its own transaction, so a poller that
 * lost it (paused past its expiry, say) writes nothing and reloads the cursor before going on.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { foldVendorFact } from "../domain/vendor-fact.js";
import { LeaseLostError, type IngestStore, type VendorCursor } from "../store/ingest-port.js";
import type { VendorConfig } from "./config.js";
import { cleartextVendorWarning, fetchPage, type VendorPage } from "./vendor-client.js";
import {
  backoffMs,
  floorToSecond,
  planNext,
  stepClosingPass,
  type FreshState,
  type PassStep,
  type PollMode,
} from "./plan.js";
import { ReconcileQueue, type Range } from "./reconcile.js";
import { PollerStatus, type RequestPurpose, type VendorPollerStatus } from "./status.js";
import { checkVendorRow, createdAtOfRaw } from "./vendor-row.js";

/** The `{info, warn, error}` part of a pino logger. */
export interface IngestLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface VendorPollerOptions {
  /** The store, or anything that carries its ingest port. */
  readonly store: { readonly ingest: IngestStore };
  /** Names this poller in the lease; unique per process by default. */
  readonly holderId?: string;
  readonly config: VendorConfig;
  readonly logger: IngestLogger;
  /** `follow` (default) runs until stopped; `catch-up` ends once it has read up to now. */
  readonly mode?: PollMode;
  /** Milliseconds since the epoch; tests may replace it. */
  readonly clock?: () => number;
  /** Uniform in [0, 1), for backoff jitter. */
  readonly random?: () => number;
  /** An operator's one-off task run instead of the loop, once the lease is held (`npm run ingest -- --reopen`). */
  readonly task?: RangeTask;
}

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

export interface VendorPoller {
  /** A JSON-ready snapshot for GET /healthz and logs. */
  status(): VendorPollerStatus;
  /** Resolves when the loop ends: after `stop()`, or when a catch-up run is done. */
  readonly done: Promise<void>;
  /** Aborts the request in flight, lets a commit in flight finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
}

/** After a window's count did not match, this many windows pass before the next count check. */
export const COUNT_CLOSE_BACKOFF_WINDOWS = 10;

/**
 * The budget's safety margin: requests are spaced as if the window were this much longer, so
 * that network jitter cannot make the vendor see one more request in its minute than we did.
 */
export function budgetMarginMs(windowMs: number): number {
  return Math.max(50, Math.ceil(windowMs / 20));
}

export function startVendorPoller(options: VendorPollerOptions): VendorPoller {
  const warning = cleartextVendorWarning(options.config.baseUrl);
  if (warning !== undefined) options.logger.warn({ vendor: options.config.baseUrl }, warning);
  const runner = new PollerRun(options);
  const done = runner.run();
  return {
    status: () => runner.status.snapshot(runner.clock()),
    done,
    stop: async () => {
      runner.abort.abort();
      await done;
    },
  };
}

/**
 * Runs an operator's task through the lease (so never beside another active poller's writes)
 * and within the shared budget; resolves with the final status and, for `reconcile`, the
 * windows whose counts differ.
 */
export async function runVendorRangeTask(
  options: Omit<VendorPollerOptions, "mode" | "task">,
  task: RangeTask,
): Promise<{ status: VendorPollerStatus; differences: RangeDifference[] }> {
  const runner = new PollerRun({ ...options, mode: "catch-up", task });
  await runner.run();
  return { status: runner.status.snapshot(runner.clock()), differences: runner.differences };
}

/** Runs a catch-up to the present and resolves with the final status: `npm run ingest`. */
export async function runVendorBackfill(options: Omit<VendorPollerOptions, "mode">): Promise<VendorPollerStatus> {
  const poller = startVendorPoller({ ...options, mode: "catch-up" });
  await poller.done;
  return poller.status();
}

class PollerRun {
  readonly abort = new AbortController();
  readonly clock: () => number;
  readonly status: PollerStatus;
  private readonly vendor: IngestStore;
  private readonly holderId: string;
  private readonly config: VendorConfig;
  private readonly logger: IngestLogger;
  private readonly mode: PollMode;
  private readonly random: () => number;
  private fresh: FreshState = { freshFromMs: -Infinity, lastFreshAtMs: -Infinity, rowsPerMs: null };
  private leaseHeld = false;
  private leaseRenewedAtMs = -Infinity;
  private leaseRenewal: Promise<boolean> | undefined;
  private readonly reconcile: ReconcileQueue;
  private readonly task: RangeTask | undefined;
  private countCloseSkips = 0;
  readonly differences: RangeDifference[] = [];

  constructor(options: VendorPollerOptions) {
    this.config = options.config;
    this.reconcile = new ReconcileQueue(options.config);
    this.task = options.task;
    this.logger = options.logger;
    this.mode = options.mode ?? "follow";
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.vendor = options.store.ingest;
    this.holderId = options.holderId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.status = new PollerStatus(options.config, this.mode);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  async run(): Promise<void> {
    // Renewed on a timer too, so a long vendor wait or backoff does not let the lease lapse.
    const renewer = setInterval(
      () => void this.holdLease().catch(() => false),
      Math.max(100, this.config.leaseTtlMs / 3),
    );
    renewer.unref();
    try {
      await this.loop();
    } finally {
      clearInterval(renewer);
      await this.vendor.releaseLease(this.holderId).catch(() => undefined);
      await this.status.refresh(this.vendor, this.clock());
    }
    this.status.state = "stopped";
    this.logger.info({ vendor: this.status.snapshot(this.clock()) }, "vendor poller stopped");
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let cursor: VendorCursor | undefined;
    let standbySinceMs: number | undefined;
    while (!this.stopped) {
      try {
        if (!(await this.holdLease())) {
          // Another poller is active: wait, and start from the stored cursor once it is ours.
          cursor = undefined;
          this.status.state = "standby";
          standbySinceMs ??= this.clock();
          // A catch-up run waits long enough to take over from a holder that died (its lease
          // expires), but not for a live one, which renews it: that one does the work.
          if (this.mode === "catch-up" && this.clock() - standbySinceMs > 2 * this.config.leaseTtlMs) {
            this.status.lastError = "another poller holds the vendor lease on this database";
            this.logger.warn({ holderId: this.holderId }, "another poller holds the vendor lease; nothing to do");
            return;
          }
          await this.sleep(this.config.leaseTtlMs / 3);
          continue;
        }
        standbySinceMs = undefined;
        if (this.task !== undefined) {
          await this.runTask(this.task);
          break;
        }
        cursor ??= await this.vendor.loadCursor(this.config.startMs);
        this.status.cursor = cursor;
        const next = await this.step(cursor);
        if (next === "done") break;
        cursor = next;
        failures = 0;
        await this.status.refresh(this.vendor, this.clock());
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.leaseHeld = false;
          cursor = undefined;
          this.logger.warn(
            { holderId: this.holderId },
            "vendor lease lost to another poller; nothing of the refused write was applied",
          );
          continue;
        }
        // The store refused a commit (busy, full, closing): nothing was applied; read again later.
        failures += 1;
        cursor = undefined;
        this.status.lastError = `store: ${(error as Error).message}`;
        this.logger.error({ err: error }, "vendor poller could not commit; retrying");
        await this.sleep(backoffMs(failures, this.config.backoffBaseMs, this.config.backoffMaxMs, this.random));
      }
    }
  }

  /** Takes or renews the lease when a third of its time has passed; answers whether it is ours. */
  private holdLease(): Promise<boolean> {
    const nowMs = this.clock();
    if (this.leaseHeld && nowMs - this.leaseRenewedAtMs < this.config.leaseTtlMs / 3) return Promise.resolve(true);
    this.leaseRenewal ??= this.vendor
      .acquireLease(this.holderId, nowMs, this.config.leaseTtlMs)
      .then((held) => {
        if (held && !this.leaseHeld)
          this.logger.info({ holderId: this.holderId }, "took the vendor lease; this poller is active");
        if (!held && this.leaseHeld)
          this.logger.warn({ holderId: this.holderId }, "vendor lease taken over by another poller");
        this.leaseHeld = held;
        if (held) this.leaseRenewedAtMs = nowMs;
        return held;
      })
      .finally(() => {
        this.leaseRenewal = undefined;
      });
    return this.leaseRenewal;
  }

  /** One planned read; answers the cursor to continue from, or "done". */
  private async step(cursor: VendorCursor): Promise<VendorCursor | "done"> {
    const nowMs = this.clock();
    const plan = planNext(cursor, this.fresh, nowMs, this.config, this.mode);
    this.status.state =
      plan.type === "closing" && cursor.closedUntilMs < nowMs - this.config.latenessMs - this.config.windowMs * 2
        ? "backfilling"
        : "following";
    switch (plan.type) {
      case "done":
        return "done";
      case "idle":
        // Budget the present does not need goes to re-counting closed history.
        if (this.mode === "follow" && (await this.reconcileStep(cursor, nowMs))) return cursor;
        await this.sleep(plan.untilMs - nowMs);
        return cursor;
      case "fresh":
        await this.freshPass(plan.startMs, plan.endMs, nowMs);
        return cursor;
      case "closing": {
        if (plan.isNew && this.fresh.freshFromMs >= plan.pass.endMs && this.readTakesPages(plan.pass)) {
          // A count that did not match costs a request for nothing; when late rows are common
          // (most windows differ), try only one window in COUNT_CLOSE_BACKOFF_WINDOWS.
          if (this.countCloseSkips > 0) this.countCloseSkips -= 1;
          else {
            const closed = await this.closeByCount(cursor, plan.pass.startMs, plan.pass.endMs);
            if (closed !== undefined) return closed;
            this.countCloseSkips = COUNT_CLOSE_BACKOFF_WINDOWS - 1;
          }
        }
        const start = { ...cursor, pass: plan.pass };
        if (plan.isNew) await this.vendor.startPass(start, this.holderId);
        return this.closingPage(start);
      }
    }
  }

  /**
   * A count only saves budget when reading the range would take more than one request; when
   * the rate is not yet known it may.
   */
  private readTakesPages(range: Range): boolean {
    const { rowsPerMs } = this.fresh;
    return rowsPerMs === null || rowsPerMs * (range.endMs - range.startMs) > this.config.pageSize;
  }

  /** The vendor's rate, from a first page's totalItems over its range: sizes the next reads. */
  private observeRate(startMs: number, endMs: number, totalItems: number): void {
    if (endMs - startMs >= 1000) this.fresh = { ...this.fresh, rowsPerMs: totalItems / (endMs - startMs) };
  }

  /**
   * Reads each row once where it can: fresh reads already applied [startMs, endMs), so when the
   * vendor's count of the range, now past its lateness bound, equals what the ledger holds, the
   * range is complete without reading it again (one `limit=1` request instead of its pages).
   * Answers the moved cursor, or undefined when the counts differ and a closing pass must read.
   */
  private async closeByCount(cursor: VendorCursor, startMs: number, endMs: number): Promise<VendorCursor | undefined> {
    const page = await this.request("count", startMs, endMs, 1, 1);
    if (page === undefined) return undefined;
    this.observeRate(startMs, endMs, page.totalItems);
    const held = await this.vendor.countHeldRows(startMs, endMs, createdAtOfRaw);
    if (held !== page.totalItems) return undefined;
    const outcome = await this.vendor.commitPage({
      holderId: this.holderId,
      rows: [],
      currency: this.config.currency,
      fold: foldVendorFact,
      closing: () => ({ ...cursor, closedUntilMs: endMs, pass: null }),
    });
    this.status.recordPage(outcome, []);
    this.status.windowsClosed += 1;
    this.status.windowsClosedByCount += 1;
    return outcome.cursor ?? cursor;
  }

  private async closingPage(cursor: VendorCursor): Promise<VendorCursor> {
    const pass = cursor.pass;
    if (pass === null) return cursor;
    const page = await this.request("closing", pass.startMs, pass.endMs, pass.nextPage);
    if (page === undefined) return cursor;
    if (pass.nextPage === 1) this.observeRate(pass.startMs, pass.endMs, page.totalItems);
    let step: PassStep | undefined;
    const outcome = await this.commit(page, (distinct) => {
      const meta = {
        page: pass.nextPage,
        itemCount: page.items.items.length,
        totalItems: page.totalItems,
        totalPages: page.totalPages,
      };
      step = stepClosingPass(cursor, pass, meta, distinct);
      return step.cursor;
    });
    if (step?.type === "closed") {
      this.status.windowsClosed += 1;
      if (!step.verified) {
        this.status.windowsClosedUnverified += 1;
        this.logger.warn(
          { startMs: pass.startMs, endMs: pass.endMs },
          "vendor counts never matched this window's rows; closed it after the last attempt",
        );
      }
    } else if (step?.type === "again") {
      this.status.windowsReread += 1;
      this.logger.warn(
        { startMs: pass.startMs, endMs: pass.endMs, totalItems: page.totalItems },
        "rows shifted between pages; reading the window again",
      );
    }
    return outcome ?? cursor;
  }

  private async freshPass(startMs: number, endMs: number, nowMs: number): Promise<void> {
    this.fresh = { ...this.fresh, lastFreshAtMs: nowMs };
    for (let pageNumber = 1; !this.stopped; pageNumber += 1) {
      const page = await this.request("fresh", startMs, endMs, pageNumber);
      if (page === undefined) return;
      if (pageNumber === 1) this.observeRate(startMs, endMs, page.totalItems);
      await this.commit(page, undefined);
      if (pageNumber >= page.totalPages || page.items.items.length === 0) break;
    }
    if (!this.stopped) {
      this.fresh = { ...this.fresh, freshFromMs: endMs };
      this.status.recordCompleteRead(endMs);
    }
  }

  private async runTask(task: RangeTask): Promise<void> {
    this.status.state = "following";
    const range = { startMs: floorToSecond(task.startMs), endMs: floorToSecond(task.endMs) };
    if (task.type === "reopen") {
      for (let pageNumber = 1; !this.stopped; pageNumber += 1) {
        const page = await this.request("task", range.startMs, range.endMs, pageNumber);
        if (page === undefined) return;
        const appliedBefore = this.status.rowsIngested;
        await this.commit(page, undefined);
        this.status.rowsRecovered += this.status.rowsIngested - appliedBefore;
        if (pageNumber >= page.totalPages || page.items.items.length === 0) return;
      }
      return;
    }
    const ranges: Range[] = [range];
    for (let next = ranges.shift(); next !== undefined && !this.stopped; next = ranges.shift()) {
      const page = await this.request("task", next.startMs, next.endMs, 1, 1);
      if (page === undefined) return;
      const held = await this.vendor.countHeldRows(next.startMs, next.endMs, createdAtOfRaw);
      if (held === page.totalItems) {
        this.status.rangesVerified += 1;
        continue;
      }
      this.status.rangesDiffering += 1;
      const midMs = floorToSecond(next.startMs + (next.endMs - next.startMs) / 2);
      if (next.endMs - next.startMs <= this.config.windowMs || midMs <= next.startMs) {
        this.differences.push({ ...this.rangeFields(next), vendorCount: page.totalItems, heldCount: held });
      } else {
        ranges.unshift({ startMs: midMs, endMs: next.endMs }, { startMs: next.startMs, endMs: midMs });
      }
    }
  }

  /**
   * One request of reconciliation, only when the budget has a slot to spare beyond it (kept for
   * the next fresh read); answers whether it did anything.
   */
  private async reconcileStep(cursor: VendorCursor, nowMs: number): Promise<boolean> {
    const task = this.reconcile.next(cursor.closedUntilMs, nowMs);
    if (task === undefined || !(await this.budgetSpare(nowMs))) return false;
    const { range } = task;
    if (task.type === "count") {
      const page = await this.request("reconcileCount", range.startMs, range.endMs, 1, 1);
      if (page === undefined) return true;
      const held = await this.vendor.countHeldRows(range.startMs, range.endMs, createdAtOfRaw);
      if (this.reconcile.counted(range, page.totalItems, held)) {
        this.status.rangesVerified += 1;
      } else {
        this.status.rangesDiffering += 1;
        this.logger.info(
          { ...this.rangeFields(range), vendorCount: page.totalItems, heldCount: held },
          "vendor count differs from the ledger's in closed history; narrowing it down",
        );
      }
      return true;
    }
    const page = await this.request("reconcileRead", range.startMs, range.endMs, task.page, this.config.pageSize);
    if (page === undefined) return true;
    const appliedBefore = this.status.rowsIngested;
    await this.commit(page, undefined);
    const recovered = this.status.rowsIngested - appliedBefore;
    this.status.rowsRecovered += recovered;
    if (recovered > 0)
      this.logger.warn({ ...this.rangeFields(range), recovered }, "reconciliation recovered rows that appeared late");
    const last = task.page >= page.totalPages || page.items.items.length === 0;
    this.reconcile.pageRead(last);
    if (last) {
      const held = await this.vendor.countHeldRows(range.startMs, range.endMs, createdAtOfRaw);
      this.reconcile.settle(range, page.totalItems, held);
      if (held !== page.totalItems)
        this.logger.warn(
          { ...this.rangeFields(range), vendorCount: page.totalItems, heldCount: held },
          "a re-read did not remove this window's count difference; accepting it until the vendor's count moves",
        );
    }
    return true;
  }

  private rangeFields(range: Range): { start: string; end: string } {
    return { start: new Date(range.startMs).toISOString(), end: new Date(range.endMs).toISOString() };
  }

  /** True when the budget window holds at least two free slots: one for this request, one for the present. */
  private async budgetSpare(nowMs: number): Promise<boolean> {
    const windowMs = this.config.budgetWindowMs + budgetMarginMs(this.config.budgetWindowMs);
    const used = await this.vendor.countRequestsSince(nowMs - windowMs);
    return used <= this.config.requestsPerWindow - 2;
  }

  private async commit(
    page: VendorPage,
    closing: ((distinct: number) => VendorCursor) | undefined,
  ): Promise<VendorCursor | undefined> {
    const rows = page.items.items.map((item, index) =>
      checkVendorRow(item, page.items.sources[index] ?? "", this.config.minorDigits),
    );
    const outcome = await this.vendor.commitPage({
      holderId: this.holderId,
      rows,
      currency: this.config.currency,
      fold: foldVendorFact,
      ...(closing === undefined ? {} : { closing }),
    });
    this.status.recordPage(outcome, rows);
    for (const row of rows) {
      if (row.type === "bad")
        this.logger.warn(
          { vendorId: row.record.vendorId, reason: row.record.reason, detail: row.record.detail },
          "vendor row quarantined",
        );
    }
    if (outcome.conflicts > 0 || outcome.overflows > 0) {
      this.logger.warn(
        { conflicts: outcome.conflicts, overflows: outcome.overflows },
        "vendor rows quarantined at apply",
      );
    }
    return outcome.cursor;
  }

  /** Fetches one page, retrying until it succeeds or the poller stops; every attempt is budgeted. */
  private async request(
    purpose: RequestPurpose,
    startMs: number,
    endMs: number,
    page: number,
    limit: number = this.config.pageSize,
  ): Promise<VendorPage | undefined> {
    for (let attempt = 0; !this.stopped; attempt += 1) {
      if (!(await this.acquireBudget())) return undefined;
      const outcome = await fetchPage(
        {
          baseUrl: this.config.baseUrl,
          startMs,
          endMs,
          page,
          limit,
          timeoutMs: this.config.timeoutMs,
        },
        this.abort.signal,
      );
      this.status.requestsUsed += 1;
      this.status.requestsByPurpose[purpose] += 1;
      if (outcome.ok) {
        this.status.lastSuccessAtMs = this.clock();
        this.status.lastError = null;
        return outcome.page;
      }
      if (this.stopped) return undefined;
      this.status.retries += 1;
      this.status.lastError = `${outcome.kind}: ${outcome.detail}`;
      const delayMs = backoffMs(
        attempt,
        this.config.backoffBaseMs,
        this.config.backoffMaxMs,
        this.random,
        outcome.retryAfterMs,
      );
      this.logger.warn(
        { kind: outcome.kind, detail: outcome.detail, page, startMs, endMs, delayMs },
        "vendor request failed; backing off",
      );
      await this.sleep(delayMs);
    }
    return undefined;
  }

  /** Waits for a slot in the persisted sliding-window budget and records the request in it. */
  private async acquireBudget(): Promise<boolean> {
    const windowMs = this.config.budgetWindowMs + budgetMarginMs(this.config.budgetWindowMs);
    while (!this.stopped) {
      const nowMs = this.clock();
      const reservation = await this.vendor.reserveRequest(nowMs, this.config.requestsPerWindow, windowMs);
      if (reservation.granted) return true;
      await this.sleep(reservation.retryAtMs - nowMs);
    }
    return false;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.abort.signal.addEventListener("abort", done, { once: true });
    });
  }
}

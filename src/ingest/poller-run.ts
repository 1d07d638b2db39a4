/**
 * One poller's loop: hold the lease, plan the next read from the cursor and the clock, and carry
 * it out (a fresh pass, a closing pass or count, or, in idle time, a queued reopen and a step of
 * reconciliation). It never throws out of its loop: the vendor failing, a bad page, or a busy
 * database are logged, counted in the status, and retried with backoff.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { LeaseLostError, type IngestStore, type VendorCursor } from "../store/ingest-port.js";
import { closeByCount, closingPage } from "./closing.js";
import type { VendorConfig } from "./config.js";
import { backoffMs, planNext, type FreshState, type PollMode } from "./plan.js";
import { PollerContext, type IngestLogger } from "./poller-context.js";
import {
  QueuedReopens,
  reconcileStep,
  runRangeTask,
  settleAccepted,
  type RangeDifference,
  type RangeTask,
} from "./range-tasks.js";
import { ReconcileQueue, type Range } from "./reconcile.js";
import { PollerStatus, type VendorPollerStatus } from "./status.js";
import { createdAtOfRaw } from "./vendor-row.js";

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

/** After a window's count did not match, this many windows pass before the next count check. */
export const COUNT_CLOSE_BACKOFF_WINDOWS = 10;

/** Longest idle sleep while following, so a queued reopen request is picked up about this soon. */
const IDLE_SLEEP_MAX_MS = 5000;

export class PollerRun {
  readonly context: PollerContext;
  readonly differences: RangeDifference[] = [];
  private readonly config: VendorConfig;
  private readonly mode: PollMode;
  private freshFromMs = -Infinity;
  private lastFreshAtMs = -Infinity;
  private leaseHeld = false;
  private leaseRenewedAtMs = -Infinity;
  private leaseRenewal: Promise<boolean> | undefined;
  private readonly reconcile: ReconcileQueue;
  private readonly reopens: QueuedReopens;
  private readonly task: RangeTask | undefined;
  private countCloseSkips = 0;
  /**
   * A catch-up run reads up to the instant it started, then ends. Chasing the moving present
   * never ended under a real budget: each closing pass waits seconds for its slot, in which more
   * time becomes closable (at 5 requests a minute, `npm run ingest` ran until stopped).
   */
  private catchUpUntilMs = Infinity;

  constructor(options: VendorPollerOptions) {
    this.config = options.config;
    this.mode = options.mode ?? "follow";
    this.task = options.task;
    const holderId = options.holderId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.context = new PollerContext(
      options.store.ingest,
      holderId,
      options.config,
      options.logger,
      new PollerStatus(options.config, this.mode),
      options.clock ?? Date.now,
      options.random ?? Math.random,
    );
    this.reconcile = new ReconcileQueue(options.config);
    this.reopens = new QueuedReopens(this.context);
  }

  snapshot(): VendorPollerStatus {
    return this.context.status.snapshot(this.context.clock());
  }

  async run(): Promise<void> {
    const { context } = this;
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
      await context.ingest.releaseLease(context.holderId).catch(() => undefined);
      await context.status.refresh(context.ingest, context.clock());
    }
    context.status.state = "stopped";
    context.logger.info({ vendor: this.snapshot() }, "vendor poller stopped");
  }

  private async loop(): Promise<void> {
    const { context } = this;
    if (this.mode === "catch-up") this.catchUpUntilMs = context.clock();
    const { status, logger, holderId } = context;
    let failures = 0;
    let cursor: VendorCursor | undefined;
    let standbySinceMs: number | undefined;
    while (!context.stopped) {
      try {
        if (!(await this.holdLease())) {
          // Another poller is active: wait, and start from the stored cursor once it is ours.
          cursor = undefined;
          status.state = "standby";
          standbySinceMs ??= context.clock();
          // A catch-up run waits long enough to take over from a holder that died (its lease
          // expires), but not for a live one, which renews it: that one does the work.
          if (this.mode === "catch-up" && context.clock() - standbySinceMs > 2 * this.config.leaseTtlMs) {
            status.lastError = "another poller holds the vendor lease on this database";
            logger.warn({ holderId }, "another poller holds the vendor lease; nothing to do");
            return;
          }
          await context.sleep(this.config.leaseTtlMs / 3);
          continue;
        }
        standbySinceMs = undefined;
        if (this.task !== undefined) {
          status.state = "following";
          await runRangeTask(context, this.task, this.differences);
          break;
        }
        if (cursor === undefined) {
          cursor = await context.ingest.loadCursor(this.config.startMs);
          // What the previous holder accepted, so reconciliation does not narrow down to it again.
          this.reconcile.restore(await context.ingest.loadAcceptedOffsets());
        }
        status.cursor = cursor;
        const next = await this.step(cursor);
        if (next === "done") break;
        cursor = next;
        failures = 0;
        await status.refresh(context.ingest, context.clock());
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.leaseHeld = false;
          cursor = undefined;
          logger.warn({ holderId }, "vendor lease lost to another poller; nothing of the refused write was applied");
          continue;
        }
        // The store refused a commit (busy, full, closing): nothing was applied; read again later.
        failures += 1;
        cursor = undefined;
        status.lastError = `store: ${(error as Error).message}`;
        logger.error({ err: error }, "vendor poller could not commit; retrying");
        const { backoffBaseMs, backoffMaxMs } = this.config;
        await context.sleep(backoffMs(failures, backoffBaseMs, backoffMaxMs, context.random));
      }
    }
  }

  /** Takes or renews the lease when a third of its time has passed; answers whether it is ours. */
  private holdLease(): Promise<boolean> {
    const { context } = this;
    const nowMs = context.clock();
    if (this.leaseHeld && nowMs - this.leaseRenewedAtMs < this.config.leaseTtlMs / 3) return Promise.resolve(true);
    this.leaseRenewal ??= context.ingest
      .acquireLease(context.holderId, nowMs, this.config.leaseTtlMs)
      .then((held) => {
        const fields = { holderId: context.holderId };
        if (held && !this.leaseHeld) context.logger.info(fields, "took the vendor lease; this poller is active");
        if (!held && this.leaseHeld) context.logger.warn(fields, "vendor lease taken over by another poller");
        this.leaseHeld = held;
        if (held) this.leaseRenewedAtMs = nowMs;
        return held;
      })
      .finally(() => {
        this.leaseRenewal = undefined;
      });
    return this.leaseRenewal;
  }

  private get fresh(): FreshState {
    return { freshFromMs: this.freshFromMs, lastFreshAtMs: this.lastFreshAtMs, rowsPerMs: this.context.rowsPerMs };
  }

  /** One planned read; answers the cursor to continue from, or "done". */
  private async step(cursor: VendorCursor): Promise<VendorCursor | "done"> {
    const { context } = this;
    const nowMs = Math.min(context.clock(), this.catchUpUntilMs);
    const plan = planNext(cursor, this.fresh, nowMs, this.config, this.mode);
    const behindMs = nowMs - this.config.latenessMs - this.config.windowMs * 2;
    context.status.state = plan.type === "closing" && cursor.closedUntilMs < behindMs ? "backfilling" : "following";
    switch (plan.type) {
      case "done":
        return "done";
      case "idle":
        // Time the present does not need goes to queued reopens, then to re-counting closed history.
        if (this.mode === "follow" && (await this.reopens.step(nowMs))) return cursor;
        if (this.mode === "follow" && (await reconcileStep(context, this.reconcile, cursor, nowMs))) return cursor;
        await context.sleep(Math.min(plan.untilMs - nowMs, this.mode === "follow" ? IDLE_SLEEP_MAX_MS : Infinity));
        return cursor;
      case "fresh":
        await this.freshPass(plan.startMs, plan.endMs, nowMs);
        return cursor;
      case "closing": {
        if (plan.isNew && this.freshFromMs >= plan.pass.endMs && this.readTakesPages(plan.pass)) {
          // A count that did not match costs a request for nothing; when late rows are common
          // (most windows differ), try only one window in COUNT_CLOSE_BACKOFF_WINDOWS.
          if (this.countCloseSkips > 0) this.countCloseSkips -= 1;
          else {
            const closed = await closeByCount(context, cursor, plan.pass.startMs, plan.pass.endMs);
            if (closed !== undefined) return closed;
            this.countCloseSkips = COUNT_CLOSE_BACKOFF_WINDOWS - 1;
          }
        }
        const start = { ...cursor, pass: plan.pass };
        if (plan.isNew) await context.ingest.startPass(start, context.holderId);
        return closingPage(context, start, (range, vendorCount) => this.rememberOffset(range, vendorCount));
      }
    }
  }

  /**
   * A range just closed verified: whatever its vendor count differs from the ledger's by now (a
   * quarantined row whose createdAt cannot be read, which the vendor counts and we cannot
   * place) is not a late row, so reconciliation accepts it instead of bisecting down to it.
   */
  private async rememberOffset(range: Range, vendorCount: number): Promise<void> {
    const held = await this.context.ingest.countHeldRows(range.startMs, range.endMs, createdAtOfRaw);
    await settleAccepted(this.context, this.reconcile, range, vendorCount, held);
  }

  /** A count only saves budget when reading the range would take more than one request; unknown rate: it may. */
  private readTakesPages(range: Range): boolean {
    const { rowsPerMs } = this.context;
    return rowsPerMs === null || rowsPerMs * (range.endMs - range.startMs) > this.config.pageSize;
  }

  /** Reads [startMs, endMs) to its last page; it proves nothing and moves no cursor. */
  private async freshPass(startMs: number, endMs: number, nowMs: number): Promise<void> {
    const { context } = this;
    this.lastFreshAtMs = nowMs;
    for (let pageNumber = 1; !context.stopped; pageNumber += 1) {
      const page = await context.request("fresh", startMs, endMs, pageNumber);
      if (page === undefined) return;
      if (pageNumber === 1) context.observeRate(startMs, endMs, page.totalItems);
      await context.commit(page, undefined);
      if (pageNumber >= page.totalPages || page.items.items.length === 0) break;
    }
    if (!context.stopped) {
      this.freshFromMs = endMs;
      context.status.recordCompleteRead(endMs);
    }
  }
}

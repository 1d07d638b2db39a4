/**
 * The live stream's horizon, shared by every subscriber of one store: one probe of the database
 * answers them all, however many streams are open.
 *
 * The store says how to read a safe horizon (`HorizonProbe`); this class keeps the newest one,
 * wakes the streams waiting past it, and asks again when told a local write committed (`nudge`)
 * or, while anyone waits, every `pollIntervalMs` (writes by other processes on the same
 * database). With nobody waiting it polls nothing, so an idle stream feature costs no query.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { StoreUnavailableError } from "./errors.js";
import type { EntryFeed } from "./store.js";

/** The longest a stream "from now" waits for the horizon to reach the newest entry, in milliseconds. */
const HORIZON_CATCH_UP_MS = 5000;

/** A transaction left open longer than `HORIZON_CATCH_UP_MS` holds the horizon back. */
class HorizonBehindError extends StoreUnavailableError {
  constructor() {
    super("the ledger's stream cannot start now: a long write transaction is still open; retry");
  }
}

/**
 * How often a waiting stream's store reads the horizon when no local commit nudged it, in
 * milliseconds (LEDGER_STREAM_POLL_INTERVAL_MS): the latency of entries written by other
 * processes, for one cheap indexed query per interval per process while streams wait.
 */
export const STREAM_POLL_INTERVAL_MS_DEFAULT = 200;

/** How a store reads its horizon; see `EntryFeed` for what the horizon promises. */
export interface HorizonProbe {
  /** A safe horizon now: never above the previous one's guarantees, so it only moves forward. */
  horizon(): Promise<bigint>;
  /** The highest entry id recorded. */
  latestId(): Promise<bigint>;
}

interface Waiter {
  readonly afterId: bigint;
  readonly done: () => void;
}

export class PolledEntryFeed implements EntryFeed {
  private horizon = 0n;
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private probeAgain = false;
  private closed = false;
  private lastProbeMs = 0;

  /**
   * `pollIntervalMs`: how often to read the horizon while a stream waits for new entries.
   * `probeSpacingMs`: the least time between two probes however many commits nudge, for a
   * store whose probe has a cost beyond the query (PostgreSQL's takes a transaction id).
   */
  constructor(
    private readonly probe: HorizonProbe,
    private readonly pollIntervalMs: number,
    private readonly probeSpacingMs = 0,
  ) {}

  get horizonId(): bigint {
    return this.horizon;
  }

  /**
   * A horizon at or above the newest entry visible now: where a stream "from now" starts. Read
   * straight from the database, so that a failure reaches the caller as one; on a store whose
   * horizon trails its writes (PostgreSQL) it waits for the horizon to catch up, at most
   * `HORIZON_CATCH_UP_MS`.
   */
  async currentHorizon(): Promise<bigint> {
    const latestId = await this.probe.latestId();
    const deadlineMs = Date.now() + HORIZON_CATCH_UP_MS;
    for (;;) {
      this.advance(await this.probe.horizon());
      if (this.horizon >= latestId) return this.horizon;
      if (Date.now() > deadlineMs) throw new HorizonBehindError();
      await sleep(Math.min(this.pollIntervalMs, 20));
    }
  }

  latestId(): Promise<bigint> {
    return this.probe.latestId();
  }

  waitPast(afterId: bigint, signal: AbortSignal): Promise<bigint> {
    if (this.horizon > afterId || signal.aborted || this.closed) return Promise.resolve(this.horizon);
    return new Promise<bigint>((resolve) => {
      const waiter: Waiter = {
        afterId,
        done: () => {
          signal.removeEventListener("abort", waiter.done);
          this.waiters.delete(waiter);
          if (this.waiters.size === 0) this.stopPolling();
          resolve(this.horizon);
        },
      };
      this.waiters.add(waiter);
      signal.addEventListener("abort", waiter.done, { once: true });
      this.startPolling();
    });
  }

  async refreshHorizon(): Promise<bigint> {
    await this.refresh();
    return this.horizon;
  }

  /** A write of this process is durable: read the horizon again soon, if anyone waits. */
  nudge(): void {
    if (this.waiters.size > 0) void this.refresh();
  }

  /** Ends every wait (they resolve with the horizon as it stands) and stops polling. */
  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const waiter of [...this.waiters]) waiter.done();
  }

  private startPolling(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => void this.refresh(), this.pollIntervalMs);
    this.timer.unref();
    // The first look right away: the entry waited for may have committed since the last one.
    void this.refresh();
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One probe at a time; nudges that arrive meanwhile ask for exactly one more. */
  private refresh(): Promise<void> {
    if (this.probing !== undefined) {
      this.probeAgain = true;
      return this.probing;
    }
    this.probing = (async () => {
      do {
        this.probeAgain = false;
        const waitMs = this.lastProbeMs + this.probeSpacingMs - Date.now();
        if (waitMs > 0) await sleep(waitMs);
        this.lastProbeMs = Date.now();
        try {
          this.advance(await this.probe.horizon());
        } catch {
          // The database is unreachable or closing: keep the horizon, the next poll tries again.
          // A stream that waits meanwhile just waits; its deadline still ends it.
        }
      } while (this.probeAgain && !this.closed);
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private advance(horizon: bigint): void {
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    for (const waiter of [...this.waiters]) if (horizon > waiter.afterId) waiter.done();
  }
}

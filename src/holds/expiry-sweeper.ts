/**
 * Releases holds whose expiry instant has passed: the service's own job, so that a hold nobody
 * settles gives its money back. It sleeps until the next expiry it knows of (at most
 * `sweepIntervalMs`, so it also finds holds placed by other processes), then releases the due
 * holds in bounded batches, each release an ordinary store mutation recorded as a `hold_expire`
 * entry. The rule runs at the commit time under the account's lock, so a hold captured or voided
 * meanwhile, or released by another process's sweeper, is left alone: a second release is a
 * no-op, never a double one.
 */
import type { Clock } from "../clock.js";
import type { HoldLedger } from "../domain/hold-ledger.js";
import type { Logger } from "../logger.js";

export interface SweeperOptions {
  /** The longest sleep between sweeps, in milliseconds. */
  readonly sweepIntervalMs: number;
  /** Most holds read and released by one sweep before the next one starts. */
  readonly sweepBatchMax: number;
}

export class ExpirySweeper {
  private cancelTimer: (() => void) | undefined;
  private wakeAtMs: number | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = true;
  /** Holds released since start, for tests and logs. */
  released = 0;

  constructor(
    private readonly holds: HoldLedger,
    private readonly clock: Clock,
    private readonly options: SweeperOptions,
    private readonly logger: Logger,
  ) {}

  /** Sweeps now, then at each next expiry. */
  start(): void {
    this.stopped = false;
    this.holds.onHoldPlaced = (expiresAtMs) => this.wakeBy(expiresAtMs);
    this.wakeIn(0);
  }

  /** Stops the timer and waits for a sweep in progress to finish its releases. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.holds.onHoldPlaced = undefined;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.sweeping;
  }

  /** Resolves once no sweep is running (tests: after moving the clock). */
  async settled(): Promise<void> {
    while (this.sweeping !== undefined) await this.sweeping;
  }

  /** A hold that expires at `atMs` was placed: wake by then if that is sooner than planned. */
  private wakeBy(atMs: number): void {
    if (this.stopped || (this.wakeAtMs !== undefined && this.wakeAtMs <= atMs)) return;
    this.wakeIn(atMs - this.clock.nowMs());
  }

  private wakeIn(delayMs: number): void {
    if (this.stopped) return;
    const boundedMs = Math.max(0, Math.min(delayMs, this.options.sweepIntervalMs));
    const wakeAtMs = this.clock.nowMs() + boundedMs;
    // A hold placed during a sweep may have asked for an earlier wake than the sweep's list knew.
    if (this.cancelTimer !== undefined && this.wakeAtMs !== undefined && this.wakeAtMs <= wakeAtMs) return;
    this.cancelTimer?.();
    this.wakeAtMs = wakeAtMs;
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.wakeAtMs = undefined;
      if (this.sweeping === undefined) {
        this.sweeping = this.sweep().finally(() => (this.sweeping = undefined));
      }
    }, boundedMs);
  }

  private async sweep(): Promise<void> {
    const listed = await this.holds.activeHoldsByExpiry(this.options.sweepBatchMax);
    if (!listed.ok) {
      this.logger.warn({ failure: listed.failure.kind }, "the hold sweeper could not read the holds; retrying later");
      this.wakeIn(this.options.sweepIntervalMs);
      return;
    }
    const nowMs = this.clock.nowMs();
    const due = listed.value.filter((hold) => hold.expiresAtMs <= nowMs);
    // Concurrent releases share the store's write batches; each is decided on its own.
    const results = await Promise.all(due.map((hold) => this.holds.expire(hold)));
    const failed = results.filter((result) => !result.ok).length;
    const released = results.filter((result) => result.ok && result.value).length;
    this.released += released;
    if (released > 0 || failed > 0) this.logger.info({ released, failed }, "released expired holds");
    const next = listed.value.find((hold) => hold.expiresAtMs > nowMs);
    if (failed > 0) this.wakeIn(this.options.sweepIntervalMs);
    else if (due.length === this.options.sweepBatchMax) this.wakeIn(0);
    else this.wakeIn(next === undefined ? this.options.sweepIntervalMs : next.expiresAtMs - nowMs);
  }
}

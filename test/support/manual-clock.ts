/**
 * A clock that moves only when a test moves it: commit times and the hold sweeper's timers read
 * it, so expiry is tested without sleeping.
 */
import type { Clock } from "../../src/clock.js";

interface Timer {
  readonly atMs: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  private readonly timers = new Set<Timer>();

  constructor(private currentMs = Date.UTC(2026, 10, 23, 12)) {}

  nowMs(): number {
    return this.currentMs;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    const timer = { atMs: this.currentMs + Math.max(0, delayMs), callback };
    this.timers.add(timer);
    // Due already: run it on the next turn, as a real timer would.
    if (delayMs <= 0) setImmediate(() => this.fireDue());
    return () => this.timers.delete(timer);
  }

  /** Moves time forward and runs the timers that became due. */
  advance(ms: number): void {
    this.currentMs += ms;
    this.fireDue();
  }

  /** Moves time forward without running any timer: as if the sweeper had not woken yet. */
  advanceQuietly(ms: number): void {
    this.currentMs += ms;
  }

  private fireDue(): void {
    for (const timer of [...this.timers]) {
      if (timer.atMs > this.currentMs) continue;
      this.timers.delete(timer);
      timer.callback();
    }
  }
}

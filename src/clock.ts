/**
 * Time as the service reads it: the commit time of every write, and the timers of the hold
 * expiry sweeper. Production uses the system clock; tests inject a manual one, so that expiry is
 * tested by moving time rather than by sleeping.
 */
export interface Clock {
  /** Milliseconds since 1970. */
  nowMs(): number;
  /**
   * Calls `callback` once `delayMs` have passed on this clock; returns a function that cancels
   * it. The timer must not keep the process alive.
   */
  setTimer(callback: () => void, delayMs: number): () => void;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

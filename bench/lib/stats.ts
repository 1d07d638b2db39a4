/**
 * What one load run reports, whichever driver ran it: the figures ghz prints (count, calls/s,
 * latency percentiles, a latency histogram and the status codes).
 */

/** Upper bounds of the latency histogram's buckets, in milliseconds; the last is open. */
const BUCKET_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

export interface RunStats {
  readonly count: number;
  readonly durationMs: number;
  readonly callsPerSec: number;
  readonly latencyMs: {
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /** "<=1ms": 1234, ..., ">5000ms": 0. */
  readonly histogram: Record<string, number>;
  /** Status code name (OK, FAILED_PRECONDITION, ...) to count. */
  readonly codes: Record<string, number>;
}

export function summarize(latenciesMs: Float64Array, codes: Record<string, number>, durationMs: number): RunStats {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (quantile: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0);
  let sum = 0;
  for (const latency of sorted) sum += latency;
  const histogram: Record<string, number> = {};
  for (const bound of BUCKET_BOUNDS_MS) histogram[`<=${bound}ms`] = 0;
  histogram[`>${BUCKET_BOUNDS_MS.at(-1)}ms`] = 0;
  for (const latency of sorted) {
    const bound = BUCKET_BOUNDS_MS.find((limit) => latency <= limit);
    const key = bound === undefined ? `>${BUCKET_BOUNDS_MS.at(-1)}ms` : `<=${bound}ms`;
    histogram[key] = (histogram[key] ?? 0) + 1;
  }
  return {
    count: sorted.length,
    durationMs: round(durationMs),
    callsPerSec: Math.round((sorted.length / durationMs) * 1000),
    latencyMs: {
      mean: round(sum / Math.max(1, sorted.length)),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: round(sorted.at(-1) ?? 0),
    },
    histogram,
    codes,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

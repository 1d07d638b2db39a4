/**
 * Runs a gRPC job with ghz when it is on PATH: the tool our users check the ledger with. Its
 * JSON report is turned into the same `RunStats` as the in-repo driver's. ghz sends one method
 * per run, so the write mix is approximated by AdjustBalance (see `ghzArgs`).
 */
import { spawn, spawnSync } from "node:child_process";
import type { DriverJob } from "../driver.js";
import { PINNING } from "./processes.js";
import { ghzArgs } from "./scenarios.js";
import type { RunStats } from "./stats.js";

export const GHZ_ON_PATH = spawnSync("ghz", ["--version"]).status === 0;

/** The fields of ghz's `--format json` report that we read; durations are in nanoseconds. */
interface GhzReport {
  readonly count: number;
  readonly total: number;
  readonly average: number;
  readonly slowest: number;
  readonly rps: number;
  readonly statusCodeDistribution: Record<string, number>;
  readonly latencyDistribution: readonly { readonly percentage: number; readonly latency: number }[] | null;
  readonly histogram: readonly { readonly mark: number; readonly count: number }[] | null;
}

const NS_PER_MS = 1e6;

export function runGhz(job: DriverJob): Promise<RunStats> {
  const args = [...ghzArgs(job, job.address), "--format", "json"];
  if (job.warmup > 0)
    args.splice(args.indexOf("-n") + 1, 1, String(job.total + job.warmup), "--skipFirst", String(job.warmup));
  const [command, commandArgs] =
    PINNING === null ? ["ghz", args] : ["taskset", ["-c", String(PINNING.driver), "ghz", ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`ghz exited with code ${code}`));
      try {
        resolve(toStats(JSON.parse(Buffer.concat(chunks).toString("utf8")) as GhzReport));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function toStats(report: GhzReport): RunStats {
  const percentile = (wanted: number) =>
    round((report.latencyDistribution?.find((entry) => entry.percentage === wanted)?.latency ?? 0) / NS_PER_MS);
  const histogram: Record<string, number> = {};
  for (const bucket of report.histogram ?? []) histogram[`<=${round(bucket.mark * 1000)}ms`] = bucket.count;
  const codes: Record<string, number> = {};
  for (const [code, count] of Object.entries(report.statusCodeDistribution)) {
    // Go spells codes FailedPrecondition; our reports use the canonical FAILED_PRECONDITION.
    codes[code === "OK" ? code : code.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()] = count;
  }
  return {
    count: report.count,
    durationMs: round(report.total / NS_PER_MS),
    callsPerSec: Math.round(report.rps),
    latencyMs: {
      mean: round(report.average / NS_PER_MS),
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
      max: round(report.slowest / NS_PER_MS),
    },
    histogram,
    codes,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

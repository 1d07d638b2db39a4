/**
 * The benchmark's report: the JSON record of a run and its Markdown summary, where every ledger
 * figure is also a fraction of the ceilings measured in the same run, and each target says
 * whether it was met and by how much.
 */
import type { RunSpec } from "./scenarios.js";
import type { RunStats } from "./stats.js";

export interface RunRecord extends RunSpec {
  /** What drove the run: h2load, ghz, grpc-js (bench/driver.ts) or node:http (the same file). */
  readonly driver: string;
  /** The machine's 1-minute load average as the run started: other work skews every figure. */
  readonly loadAverage1m: number;
  readonly stats: RunStats;
  /** The wallet runs' codes as the server's access log recorded them. */
  readonly serverCodes?: Record<string, number>;
}

export interface StoreCeilingRecord {
  readonly id: string;
  readonly durability: string;
  readonly concurrency: number;
  readonly stats: RunStats;
}

export interface IngestRecord {
  readonly rows: number;
  readonly durationMs: number;
  readonly rowsPerSec: number;
  readonly requests: number;
  readonly lastError: string | null;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationS: number;
  readonly node: string;
  readonly platform: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly pinning: string;
  readonly loadAverage: string;
  readonly quick: boolean;
  readonly driver: string;
  readonly settings: Record<string, string | number>;
  readonly runs: readonly RunRecord[];
  readonly storeCeilings: readonly StoreCeilingRecord[];
  /** Scenario 6; null when the run left it out. */
  readonly ingest: IngestRecord | null;
  /** One line per check: the wallets' exactness, and the hot-account runs' applied calls. */
  readonly checks: readonly string[];
  readonly ghzCommands: readonly string[];
}

function durabilityOf(run: RunRecord): string {
  return run.server === "ledger-normal" ? "normal" : run.server.startsWith("ledger-full") ? "full" : "-";
}

function ratio(value: number, ceiling: number | undefined): string {
  return ceiling === undefined || ceiling === 0 ? "-" : `${Math.round((value / ceiling) * 100)}%`;
}

const isSpread = (run: RunRecord) => run.job.workload === "spread-writes" || run.job.workload === "reads";

/**
 * The ceiling a run is divided by: the same concurrency and the same driver (a ratio across
 * drivers would measure the drivers), preferring the same kind of payload (one, or varied).
 */
function ceilingOf(report: BenchReport, run: RunRecord, kind: string): RunRecord | undefined {
  const candidates = report.runs.filter(
    (candidate) =>
      candidate.server === kind && candidate.job.concurrency === run.job.concurrency && candidate.driver === run.driver,
  );
  return candidates.find((candidate) => isSpread(candidate) === isSpread(run)) ?? candidates[0];
}

function codesOf(run: RunRecord): string {
  const list = (codes: Record<string, number>) =>
    Object.entries(codes)
      .map(([code, count]) => `${code} ${count}`)
      .join(", ");
  return run.serverCodes === undefined
    ? list(run.stats.codes)
    : `${list(run.serverCodes)} (server log); ${list(run.stats.codes)} (${run.driver})`;
}

function runLine(
  report: BenchReport,
  run: RunRecord,
  storeRate: (durability: string, concurrency: number) => number | undefined,
): string {
  const { stats, job } = run;
  const durability = durabilityOf(run);
  const isLedger = durability !== "-";
  const grpcLedger = isLedger && job.protocol === "grpc" && job.concurrency <= 1000;
  const of = (kind: string, applies: boolean) =>
    applies ? ratio(stats.callsPerSec, ceilingOf(report, run, kind)?.stats.callsPerSec) : "-";
  return (
    `| ${run.id} | ${run.scenario}${job.protocol === "http" ? (isLedger ? " (HTTP/1.1 Connect JSON)" : " (HTTP/1.1)") : ""} | ${run.driver} | ${durability} | ${job.concurrency} | ${stats.count} | ${stats.callsPerSec} | ` +
    `${stats.latencyMs.p50} | ${stats.latencyMs.p99} | ${(stats.latencyMs.p99 / Math.max(0.01, stats.latencyMs.p50)).toFixed(1)} | ${codesOf(run)} | ${run.loadAverage1m.toFixed(2)} | ` +
    `${of("trivial-stack", grpcLedger)} | ${of("trivial-grpc-js", grpcLedger)} | ` +
    `${grpcLedger && run.scenario !== "reads" ? ratio(stats.callsPerSec, storeRate(durability, job.concurrency)) : "-"} | ` +
    `${of("trivial-node-http", isLedger && job.protocol === "http")} |`
  );
}

export function renderMarkdown(report: BenchReport): string {
  const byId = (id: string) => report.runs.find((run) => run.id === id);
  const storeRate = (durability: string, concurrency: number) =>
    report.storeCeilings.find((ceiling) => ceiling.durability === durability && ceiling.concurrency === concurrency)
      ?.stats.callsPerSec;
  const lines = [
    `# Ledger benchmark, ${report.startedAt}${report.quick ? " (quick)" : ""}`,
    "",
    `Node ${report.node}, ${report.platform}, ${report.cores} cores (${report.cpuModel}); pinning: ${report.pinning}; load average ${report.loadAverage}; ${report.durationS} s in all.`,
    `Drivers: ${report.driver} (each row names its own; a ratio divides by the ceiling run with the same driver and concurrency).`,
    `Settings: ${Object.entries(report.settings)
      .map(([key, value]) => `${key}=${value}`)
      .join(", ")}.`,
    "",
    "Ceilings: (a) trivial handler on our own stack (listener, the LEDGER_GRPC_SERVER engine, interceptors, logging), no store;",
    "(b) a bare @grpc/grpc-js server with a fixed answer; (c) the domain and SQLite store alone, no RPC, same durability;",
    "(d) a bare `node:http` server that reads the body and sends a fixed JSON answer.",
    "",
    "| run | scenario | driver | durability | concurrency | calls | calls/s | p50 ms | p99 ms | p99/p50 | codes | load 1m | of (a) | of (b) | of (c) | of (d) |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
  ];
  for (const run of report.runs) lines.push(runLine(report, run, storeRate));
  for (const ceiling of report.storeCeilings) {
    const { stats } = ceiling;
    lines.push(
      `| ${ceiling.id} | ceiling (c) store alone | - | ${ceiling.durability} | ${ceiling.concurrency} | ${stats.count} | ${stats.callsPerSec} | ${stats.latencyMs.p50} | ${stats.latencyMs.p99} | ${(stats.latencyMs.p99 / Math.max(0.01, stats.latencyMs.p50)).toFixed(1)} | ${Object.entries(
        stats.codes,
      )
        .map(([code, count]) => `${code} ${count}`)
        .join(", ")} | - | - | - | - | - |`,
    );
  }
  if (report.ingest !== null) {
    const { rows, durationMs, rowsPerSec, requests, lastError } = report.ingest;
    lines.push(
      "",
      `Ingest (poller catch-up from the fake vendor, rate limit lifted, durable store; the fake vendor shares the core, so a lower bound): ${rows} rows in ${durationMs} ms = **${rowsPerSec} rows/s**, ${requests} vendor requests${lastError === null ? "" : `, last error: ${lastError}`}.`,
    );
  }
  lines.push("", "## Targets", "");
  for (const check of report.checks) lines.push(`- check: ${check}`);
  for (const result of targetResults(report)) {
    const verdict =
      result.fraction >= result.wanted
        ? "MET"
        : `MISSED by ${Math.round((result.wanted - result.fraction) * 100)} points`;
    lines.push(
      `- ${result.name} [${result.driver}]: ${result.callsPerSec} / ${result.ceilingCallsPerSec} (${result.ceilingId}) = ${Math.round(result.fraction * 100)}% (target ${result.wanted * 100}%): ${verdict}`,
    );
  }
  const logged = byId("hot-full-c100");
  for (const [ours, previous] of [
    ["trivial-stack-c100", "trivial-stack-engine-grpc-js-c100"],
    ["hot-full-c100", "hot-full-engine-grpc-js-c100"],
  ] as const) {
    const [now, before] = [byId(ours), byId(previous)];
    if (now !== undefined && before !== undefined) {
      lines.push(
        `- gRPC engine: ${ours} (http2, ours) ${now.stats.callsPerSec} / ${previous} (grpc-js) ${before.stats.callsPerSec} calls/s = ${Math.round((now.stats.callsPerSec / before.stats.callsPerSec) * 100)}%`,
      );
    }
  }
  const quiet = byId("hot-full-quiet-c100");
  if (logged !== undefined && quiet !== undefined) {
    lines.push(
      `- access log cost: hot-full-c100 (log at info) ${logged.stats.callsPerSec} / hot-full-quiet-c100 (warn) ${quiet.stats.callsPerSec} calls/s = ${Math.round((logged.stats.callsPerSec / quiet.stats.callsPerSec) * 100)}%`,
    );
  }
  for (const run of report.runs.filter(
    (candidate) => candidate.job.concurrency === 1000 && durabilityOf(candidate) !== "-",
  )) {
    const spread = run.stats.latencyMs.p99 / Math.max(0.01, run.stats.latencyMs.p50);
    lines.push(
      `- p99 <= 10 x p50 at c=1000, ${run.id}: ${run.stats.latencyMs.p99} / ${run.stats.latencyMs.p50} ms = ${spread.toFixed(1)}x: ${spread <= 10 ? "MET" : "MISSED"}`,
    );
  }
  lines.push("", "## Equivalent commands (h2load, ghz)", "", "```sh", ...report.ghzCommands, "```", "");
  return `${lines.join("\n")}\n`;
}

/** One throughput target of the summary, as measured in one report. */
export interface TargetResult {
  readonly name: string;
  readonly driver: string;
  readonly callsPerSec: number;
  readonly ceilingId: string;
  readonly ceilingCallsPerSec: number;
  readonly fraction: number;
  readonly wanted: number;
}

const TARGETS: readonly { name: string; run: string; ceiling: string; wanted: number }[] = [
  {
    name: "durable AdjustBalance on one account c=100 vs trivial @grpc/grpc-js (b)",
    run: "hot-full-c100",
    ceiling: "trivial-grpc-js",
    wanted: 0.8,
  },
  {
    name: "wallet over HTTP/1.1 Connect JSON, 10,000 requests over 1,000 connections vs trivial node:http (d)",
    run: "http-wallet-c1000",
    ceiling: "trivial-node-http",
    wanted: 0.5,
  },
  {
    name: "wallet over HTTP/1.1 Connect JSON, 10,000 simultaneous connections vs trivial node:http (d)",
    run: "http-wallet-c10000",
    ceiling: "trivial-node-http",
    wanted: 0.8,
  },
  {
    name: "durable sustained writes c=100 vs trivial @grpc/grpc-js (b)",
    run: "sustained-full-c100",
    ceiling: "trivial-grpc-js",
    wanted: 0.7,
  },
  {
    name: "durable sustained writes c=100 vs trivial handler on our stack (a)",
    run: "sustained-full-c100",
    ceiling: "trivial-stack",
    wanted: 0.8,
  },
];

/** The throughput targets this report has both sides of. */
export function targetResults(report: BenchReport): TargetResult[] {
  const results: TargetResult[] = [];
  for (const target of TARGETS) {
    const run = report.runs.find((candidate) => candidate.id === target.run);
    const ceiling = run === undefined ? undefined : ceilingOf(report, run, target.ceiling);
    if (run === undefined || ceiling === undefined) continue;
    results.push({
      name: target.name,
      driver: run.driver,
      callsPerSec: run.stats.callsPerSec,
      ceilingId: ceiling.id,
      ceilingCallsPerSec: ceiling.stats.callsPerSec,
      fraction: run.stats.callsPerSec / ceiling.stats.callsPerSec,
      wanted: target.wanted,
    });
  }
  return results;
}

/**
 * Several rounds of the same runs, one after the other in one invocation (`--rounds=N`): each
 * target's ratio in every round and its median, which a machine whose neighbouring runs differ
 * by a tenth or more reads better than any single round; then every round's own summary.
 */
export function renderRounds(reports: readonly BenchReport[]): string {
  const lines = [`# Ledger benchmark, ${reports.length} rounds from ${reports[0]?.startedAt ?? ""}`, ""];
  lines.push("## Targets across the rounds (median of the rounds' ratios)", "");
  lines.push(`| target | ${reports.map((_, index) => `round ${index + 1}`).join(" | ")} | median | verdict |`);
  lines.push(`|---|${reports.map(() => "---:|").join("")}---:|---|`);
  const perRound = reports.map(targetResults);
  for (const target of TARGETS) {
    const fractions = perRound.map((results) => results.find((result) => result.name === target.name)?.fraction);
    const measured = fractions.filter((fraction): fraction is number => fraction !== undefined);
    if (measured.length === 0) continue;
    const middle = median(measured);
    const verdict = middle >= target.wanted ? "MET" : `MISSED by ${Math.round((target.wanted - middle) * 100)} points`;
    const cells = fractions.map((fraction) => (fraction === undefined ? "-" : `${Math.round(fraction * 100)}%`));
    lines.push(
      `| ${target.name} (target ${target.wanted * 100}%) | ${cells.join(" | ")} | ${Math.round(middle * 100)}% | ${verdict} |`,
    );
  }
  // The latency target: p99 at most 10 × p50 for every durable run at c=1,000.
  const spreadIds = [
    ...new Set(
      reports.flatMap((report) =>
        report.runs.filter((run) => run.job.concurrency === 1000 && durabilityOf(run) !== "-").map((run) => run.id),
      ),
    ),
  ];
  for (const id of spreadIds) {
    const spreads = reports.map((report) => {
      const run = report.runs.find((candidate) => candidate.id === id);
      return run === undefined ? undefined : run.stats.latencyMs.p99 / Math.max(0.01, run.stats.latencyMs.p50);
    });
    const measured = spreads.filter((spread): spread is number => spread !== undefined);
    const middle = median(measured);
    const cells = spreads.map((spread) => (spread === undefined ? "-" : `${spread.toFixed(1)}x`));
    lines.push(
      `| p99/p50 of ${id} (target at most 10x) | ${cells.join(" | ")} | ${middle.toFixed(1)}x | ${middle <= 10 ? "MET" : "MISSED"} |`,
    );
  }
  reports.forEach((report, index) => {
    lines.push("", `## Round ${index + 1}`, "", ...renderMarkdown(report).replace(/^#/gm, "##").split("\n"));
  });
  return `${lines.join("\n")}\n`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * The benchmark's report: the JSON record of a run and its Markdown summary, where every ledger
 * figure is also a fraction of the ceilings measured in the same run, and each target says
 * whether it was met and by how much.
 */
import type { RunSpec } from "./scenarios.js";
import type { RunStats } from "./stats.js";

export interface RunRecord extends RunSpec {
  readonly stats: RunStats;
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
  /** One line per exactness check (wallet scenarios). */
  readonly checks: readonly string[];
  readonly ghzCommands: readonly string[];
}

function durabilityOf(run: RunRecord): string {
  return run.server === "ledger-normal" ? "normal" : run.server === "ledger-full" ? "full" : "-";
}

function ratio(value: number, ceiling: number | undefined): string {
  return ceiling === undefined || ceiling === 0 ? "-" : `${Math.round((value / ceiling) * 100)}%`;
}

export function renderMarkdown(report: BenchReport): string {
  const rate = (id: string) => report.runs.find((run) => run.id === id)?.stats.callsPerSec;
  const storeRate = (durability: string, concurrency: number) =>
    report.storeCeilings.find((ceiling) => ceiling.durability === durability && ceiling.concurrency === concurrency)?.stats.callsPerSec;
  const lines = [
    `# Ledger benchmark, ${report.startedAt}${report.quick ? " (quick)" : ""}`,
    "",
    `Node ${report.node}, ${report.platform}, ${report.cores} cores (${report.cpuModel}); pinning: ${report.pinning}; load average ${report.loadAverage}; ${report.durationS} s in all.`,
    `Driver: ${report.driver}.`,
    `Settings: ${Object.entries(report.settings).map(([key, value]) => `${key}=${value}`).join(", ")}.`,
    "",
    "Ceilings: (a) trivial handler on our own stack (listener, grpc-js adapter, interceptors, logging), no store;",
    "(b) a bare @grpc/grpc-js server with a fixed answer; (c) the domain and SQLite store alone, no RPC, same durability.",
    "",
    "| run | scenario | durability | concurrency | calls | calls/s | p50 ms | p99 ms | p99/p50 | codes | of (a) | of (b) | of (c) |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
  ];
  for (const run of report.runs) {
    const { stats, job } = run;
    const durability = durabilityOf(run);
    const isLedger = durability !== "-" && job.protocol === "grpc" && job.concurrency <= 1000;
    const codes = Object.entries(stats.codes).map(([code, count]) => `${code} ${count}`).join(", ");
    lines.push(
      `| ${run.id} | ${run.scenario}${job.protocol === "http" ? " (HTTP/1.1 Connect JSON)" : ""} | ${durability} | ${job.concurrency} | ${stats.count} | ${stats.callsPerSec} | ${stats.latencyMs.p50} | ${stats.latencyMs.p99} | ${(stats.latencyMs.p99 / Math.max(0.01, stats.latencyMs.p50)).toFixed(1)} | ${codes} | ` +
        `${isLedger ? ratio(stats.callsPerSec, rate(`trivial-stack-c${job.concurrency}`)) : "-"} | ` +
        `${isLedger ? ratio(stats.callsPerSec, rate(`trivial-grpc-js-c${job.concurrency}`)) : "-"} | ` +
        `${isLedger && run.scenario !== "reads" ? ratio(stats.callsPerSec, storeRate(durability, job.concurrency)) : "-"} |`,
    );
  }
  for (const ceiling of report.storeCeilings) {
    const { stats } = ceiling;
    lines.push(`| ${ceiling.id} | ceiling (c) store alone | ${ceiling.durability} | ${ceiling.concurrency} | ${stats.count} | ${stats.callsPerSec} | ${stats.latencyMs.p50} | ${stats.latencyMs.p99} | ${(stats.latencyMs.p99 / Math.max(0.01, stats.latencyMs.p50)).toFixed(1)} | ${Object.entries(stats.codes).map(([code, count]) => `${code} ${count}`).join(", ")} | - | - | - |`);
  }
  if (report.ingest !== null) {
    const { rows, durationMs, rowsPerSec, requests, lastError } = report.ingest;
    lines.push("", `Ingest (poller catch-up from the fake vendor, rate limit lifted, durable store; the fake vendor shares the core, so a lower bound): ${rows} rows in ${durationMs} ms = **${rowsPerSec} rows/s**, ${requests} vendor requests${lastError === null ? "" : `, last error: ${lastError}`}.`);
  }
  lines.push("", "## Targets", "");
  for (const check of report.checks) lines.push(`- wallet exactness: ${check}`);
  const durable = rate("sustained-full-c100") ?? 0;
  const target = (name: string, value: number, ceiling: number | undefined, wanted: number) => {
    if (ceiling === undefined) return;
    const fraction = value / ceiling;
    const verdict = fraction >= wanted ? "MET" : `MISSED by ${Math.round((wanted - fraction) * 100)} points`;
    lines.push(`- ${name}: ${value} / ${ceiling} = ${Math.round(fraction * 100)}% (target ${wanted * 100}%): ${verdict}`);
  };
  target("durable sustained writes c=100 vs trivial @grpc/grpc-js (b)", durable, rate("trivial-grpc-js-c100"), 0.7);
  target("durable sustained writes c=100 vs trivial handler on our stack (a)", durable, rate("trivial-stack-c100"), 0.8);
  for (const run of report.runs.filter((candidate) => candidate.job.concurrency === 1000 && durabilityOf(candidate) !== "-")) {
    const spread = run.stats.latencyMs.p99 / Math.max(0.01, run.stats.latencyMs.p50);
    lines.push(`- p99 <= 10 x p50 at c=1000, ${run.id}: ${run.stats.latencyMs.p99} / ${run.stats.latencyMs.p50} ms = ${spread.toFixed(1)}x: ${spread <= 10 ? "MET" : "MISSED"}`);
  }
  lines.push("", "## Equivalent ghz commands", "", "```sh", ...report.ghzCommands, "```", "");
  return `${lines.join("\n")}\n`;
}

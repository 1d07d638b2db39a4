/**
 * `npm run bench [-- --quick] [-- --profile] [-- --store=postgres]`: starts each server on a fresh temporary database,
 * drives the scenarios from a separate process, and writes bench/results/bench-<time>.json and
 * .md (and latest.json / latest.md). Every ledger figure is also given as a fraction of the
 * ceilings measured in the same run. Exits non-zero when the wallet scenario is not exact.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { GrpcTestClient } from "../test/support/grpc-client.js";
import type { DriverJob } from "./driver.js";
import { renderMarkdown, type BenchReport, type IngestRecord, type RunRecord, type StoreCeilingRecord } from "./lib/report.js";
import { GHZ_ON_PATH, runGhz } from "./lib/ghz.js";
import { CORES, PINNING, startScript, stopChild } from "./lib/processes.js";
import { ghzCommand, plan, type RunSpec, type ServerKind } from "./lib/scenarios.js";
import type { RunStats } from "./lib/stats.js";
import { HTTP_WALLET_USER, WALLET_USER } from "./lib/workload.js";

const quick = process.argv.includes("--quick");
const profile = process.argv.includes("--profile");
/** `--only=wallet,http-wallet,store`: just these runs (ids as in the summary), for iterating on one figure. */
/** `--driver=ghz|grpc-js`: ghz by default whenever it is on PATH. */
const driverChoice = process.argv.find((arg) => arg.startsWith("--driver="))?.slice("--driver=".length) ?? (GHZ_ON_PATH ? "ghz" : "grpc-js");
const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",");
const sizes = quick
  ? { sustainedTotal: 20_000, otherTotal: 10_000, warmup: 2_000 }
  : { sustainedTotal: 200_000, otherTotal: 50_000, warmup: 5_000 };
const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
const WALLET_START = 10_000n;

/** Server settings the report records; LEDGER_* variables in the environment override them. */
const SERVER_ENV: Record<string, string> = {
  LEDGER_HOST: "127.0.0.1",
  LEDGER_PORT: "0",
  LEDGER_LOG_LEVEL: process.env.LEDGER_LOG_LEVEL ?? "info",
  LEDGER_WRITE_BATCH_MAX: process.env.LEDGER_WRITE_BATCH_MAX ?? "1000",
  LEDGER_WRITE_QUEUE_MAX: process.env.LEDGER_WRITE_QUEUE_MAX ?? "50000",
  LEDGER_GRPC_SERVER: process.env.LEDGER_GRPC_SERVER ?? "grpc-js",
  LEDGER_AUTH: "off",
};

const SERVER_MODES: Record<ServerKind, { mode: string; durability: string }> = {
  "ledger-full": { mode: "ledger", durability: "full" },
  "ledger-normal": { mode: "ledger", durability: "normal" },
  "trivial-stack": { mode: "trivial-stack", durability: "full" },
  "trivial-grpc-js": { mode: "trivial-grpc-js", durability: "full" },
};

interface RunningServer {
  readonly child: ChildProcess;
  readonly address: string;
  readonly dir: string;
}

async function startServer(kind: ServerKind): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-bench-"));
  const { mode, durability } = SERVER_MODES[kind];
  const profileDir = join(RESULTS_DIR, "profiles");
  const started = startScript<{ port: number }>("server-process.ts", [mode], {
    core: PINNING?.server,
    env: { ...SERVER_ENV, LEDGER_DB: join(dir, "ledger.db"), LEDGER_DURABILITY: durability },
    // Node's default profile names carry the thread id: tsx runs its loader in a worker thread,
    // and a fixed name let that thread's profile overwrite the server's own.
    nodeFlags: profile ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, kind)}`] : [],
  });
  const { port } = await started.first;
  return { child: started.child, address: `127.0.0.1:${port}`, dir };
}

class Driver {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<Driver> {
    const started = startScript<{ ready: true }>("driver.ts", [], { core: PINNING?.driver });
    await started.first;
    return new Driver(started.child);
  }

  run(job: DriverJob): Promise<RunStats> {
    return new Promise((resolve, reject) => {
      this.child.once("message", (answer: { ok: boolean; stats?: RunStats; error?: string }) =>
        answer.ok && answer.stats ? resolve(answer.stats) : reject(new Error(answer.error)));
      this.child.send(job);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child, undefined);
  }
}

async function withClient<T>(address: string, use: (client: GrpcTestClient) => Promise<T>): Promise<T> {
  const client = new GrpcTestClient(address);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** Loads the wallet's account before its run; returns a check to run after it. */
async function prepare(spec: RunSpec, address: string): Promise<(stats: RunStats) => Promise<string | null>> {
  const userId = spec.job.workload === "wallet" ? WALLET_USER : spec.job.workload === "wallet-http" ? HTTP_WALLET_USER : null;
  if (userId === null) return () => Promise.resolve(null);
  await withClient(address, (client) => client.unary(LedgerService.method.load, { userId, amount: WALLET_START }));
  return async (stats) => {
    const balance = await withClient(address, (client) => client.unary(LedgerService.method.getBalance, { userId }));
    const exact = stats.codes.OK === 5000 && stats.codes.FAILED_PRECONDITION === 5000 && balance.balances[0]?.balance === 0n;
    const codes = JSON.stringify(stats.codes);
    return `${spec.id}: ${exact ? "EXACT" : "NOT EXACT"} (codes ${codes}, final balance ${balance.balances[0]?.balance})`;
  };
}

async function runStoreCeilings(): Promise<StoreCeilingRecord[]> {
  const records: StoreCeilingRecord[] = [];
  for (const durability of ["full", "normal"]) {
    for (const concurrency of [100, 1000]) {
      const started = startScript<RunStats>("store-ceiling.ts", [durability, "spread", String(sizes.otherTotal), String(concurrency)], {
        core: PINNING?.server,
        env: SERVER_ENV,
      });
      const stats = await started.first;
      await stopChild(started.child, undefined);
      records.push({ id: `store-${durability}-c${concurrency}`, durability, concurrency, stats });
      console.log(`store alone ${durability} c=${concurrency}: ${stats.callsPerSec} calls/s, p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms`);
    }
  }
  return records;
}

/** Scenario 6: vendor rows per second through the poller's catch-up, rate limit lifted. */
async function runIngest(): Promise<IngestRecord> {
  const started = startScript<IngestRecord>("ingest-rate.ts", [String(quick ? 20_000 : 100_000)], { core: PINNING?.server });
  const record = await started.first;
  await stopChild(started.child, undefined);
  console.log(`ingest: ${record.rows} rows in ${record.durationMs} ms, ${record.rowsPerSec} rows/s`);
  return record;
}

async function main(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const startedAt = new Date();
  // Other work on the machine skews every figure; the report shows how busy it was.
  const loadBefore = loadavg()[0] ?? 0;
  const specs = plan(sizes).filter((spec) => only === undefined || only.includes(spec.id));
  const records: RunRecord[] = [];
  const checks: string[] = [];
  const ghzCommands: string[] = [];
  const driver = await Driver.start();
  try {
    for (const kind of [...new Set(specs.map((spec) => spec.server))]) {
      const server = await startServer(kind);
      try {
        for (const spec of specs.filter((candidate) => candidate.server === kind)) {
          const check = await prepare(spec, server.address);
          const job: DriverJob = { ...spec.job, address: server.address };
          if (job.protocol === "grpc") {
            ghzCommands.push(ghzCommand(spec.job, server.address.replace(/:\d+$/, ":50051")));
            console.log(`$ ${ghzCommand(spec.job, server.address)}`);
          }
          const stats = job.protocol === "grpc" && driverChoice === "ghz" ? await runGhz(job) : await driver.run(job);
          const verdict = await check(stats);
          if (verdict !== null) checks.push(verdict);
          records.push({ ...spec, stats });
          console.log(`${spec.id}: ${stats.count} calls, ${stats.callsPerSec} calls/s, p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms, ${JSON.stringify(stats.codes)}${verdict === null ? "" : `\n  ${verdict}`}`);
        }
      } finally {
        await stopChild(server.child, "stop");
        rmSync(server.dir, { recursive: true, force: true });
      }
    }
  } finally {
    await driver.stop();
  }
  const storeCeilings = only === undefined || only.includes("store") ? await runStoreCeilings() : [];
  const ingest = only === undefined || only.includes("ingest") ? await runIngest() : null;
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cores: CORES,
    cpuModel: cpus()[0]?.model ?? "unknown",
    pinning: PINNING === null ? "none" : `server and store on core ${PINNING.server}, driver on core ${PINNING.driver}`,
    quick,
    driver: driverChoice === "ghz" ? "ghz (HTTP scenario: node:http)" : "in-repo @grpc/grpc-js driver (bench/driver.ts)",
    loadAverage: `${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after (1-minute)`,
    settings: { ...SERVER_ENV, ...sizes },
    runs: records,
    storeCeilings,
    ingest,
    checks,
    ghzCommands: [...new Set(ghzCommands)],
  };
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  const markdown = renderMarkdown(report);
  for (const name of [`bench-${stamp}`, "latest"]) {
    writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(RESULTS_DIR, `${name}.md`), markdown);
  }
  console.log(`\n${markdown}\nwritten to bench/results/bench-${stamp}.{json,md} and bench/results/latest.{json,md}`);
  if (checks.some((check) => !check.includes("EXACT") || check.includes("NOT EXACT"))) process.exitCode = 1;
}

// `--store=postgres`: the PostgreSQL scenarios, 1 and 2 processes, with their own ceiling.
if (process.argv.includes("--store=postgres")) await (await import("./postgres-run.js")).runPostgresBench();
else await main();

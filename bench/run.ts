/**
 * `npm run bench [-- --quick] [-- --profile] [-- --store=postgres]`: starts each server on a fresh temporary database,
 * drives the scenarios from a separate process, and writes bench/results/bench-<time>.json and
 * .md (and latest.json / latest.md). Every ledger figure is also given as a fraction of the
 * ceilings measured in the same run. Exits non-zero when the wallet scenario is not exact.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { execSync } from "node:child_process";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { GrpcTestClient } from "../test/support/grpc-client.js";
import type { DriverJob } from "./driver.js";
import {
  renderMarkdown,
  renderRounds,
  type BenchReport,
  type IngestRecord,
  type RunRecord,
  type StoreCeilingRecord,
} from "./lib/report.js";
import { GHZ_ON_PATH, runGhz } from "./lib/ghz.js";
import { grpcFrame, H2LOAD_ON_PATH, h2loadCommand, runH2load, tallyAccessLog, type H2loadJob } from "./lib/h2load.js";
import { CORES, PINNING, startScript, stopChild } from "./lib/processes.js";
import { ghzCommand, plan, type RunSpec, type ServerKind } from "./lib/scenarios.js";
import type { RunStats } from "./lib/stats.js";
import { WALLET_START, walletVerdict } from "./lib/wallet-check.js";
import { HOT_USER, HTTP_WALLET_USER, WALLET_USER, warmupCall, workload } from "./lib/workload.js";

const quick = process.argv.includes("--quick");
const profile = process.argv.includes("--profile");
/** `--only=wallet,http-wallet-c1000,store`: just these runs (ids as in the summary), for iterating on one figure. */
const only = process.argv
  .find((arg) => arg.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
/**
 * `--driver=grpc-js`: the in-repo drivers for every run. By default h2load drives every run that
 * sends one payload when it is on PATH, and ghz (else the in-repo driver) the others.
 */
const forceInRepo = process.argv.includes("--driver=grpc-js");
const sizes = quick
  ? { sustainedTotal: 20_000, otherTotal: 10_000, warmup: 2_000 }
  : { sustainedTotal: 200_000, otherTotal: 50_000, warmup: 5_000 };
const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
/** 10,000 simultaneous HTTP/1.1 connections need that many descriptors in the server and in h2load. */
const DESCRIPTORS_NEEDED = 10_500;

/** Server settings the report records; LEDGER_* variables in the environment override them. */
const SERVER_ENV: Record<string, string> = {
  LEDGER_HOST: "127.0.0.1",
  LEDGER_PORT: "0",
  LEDGER_LOG_LEVEL: process.env.LEDGER_LOG_LEVEL ?? "info",
  LEDGER_WRITE_BATCH_MAX: process.env.LEDGER_WRITE_BATCH_MAX ?? "1000",
  LEDGER_WRITE_QUEUE_MAX: process.env.LEDGER_WRITE_QUEUE_MAX ?? "50000",
  LEDGER_GRPC_SERVER: process.env.LEDGER_GRPC_SERVER ?? "http2",
  // 10,000 simultaneous connections, plus room for the bench's own clients.
  LEDGER_CONNECTIONS_MAX: process.env.LEDGER_CONNECTIONS_MAX ?? "16384",
  LEDGER_AUTH: "off",
};

const SERVER_MODES: Record<ServerKind, { mode: string; durability: string; env?: Record<string, string> }> = {
  "ledger-full": { mode: "ledger", durability: "full" },
  "ledger-normal": { mode: "ledger", durability: "normal" },
  "ledger-full-quiet": { mode: "ledger", durability: "full", env: { LEDGER_LOG_LEVEL: "warn" } },
  "ledger-full-grpc-js-engine": { mode: "ledger", durability: "full", env: { LEDGER_GRPC_SERVER: "grpc-js" } },
  "trivial-stack": { mode: "trivial-stack", durability: "full" },
  "trivial-stack-grpc-js-engine": { mode: "trivial-stack", durability: "full", env: { LEDGER_GRPC_SERVER: "grpc-js" } },
  "trivial-grpc-js": { mode: "trivial-grpc-js", durability: "full" },
  "trivial-node-http": { mode: "trivial-node-http", durability: "full" },
};

interface RunningServer {
  readonly child: ChildProcess;
  readonly address: string;
  readonly dir: string;
}

/** Starts a server on a fresh database; with `logPath`, its stdout (the access log) goes there. */
async function startServer(kind: ServerKind, logPath?: string): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-bench-"));
  const { mode, durability, env } = SERVER_MODES[kind];
  const profileDir = join(RESULTS_DIR, "profiles");
  const stdoutFd = logPath === undefined ? undefined : openSync(logPath, "w");
  const started = startScript<{ port: number }>("server-process.ts", [mode], {
    core: PINNING?.server,
    // A tallied access log needs one line per call: those servers log at info whatever the setting.
    env: {
      ...SERVER_ENV,
      ...env,
      ...(logPath === undefined ? {} : { LEDGER_LOG_LEVEL: "info" }),
      LEDGER_DB: join(dir, "ledger.db"),
      LEDGER_DURABILITY: durability,
    },
    // Node's default profile names carry the thread id: tsx runs its loader in a worker thread,
    // and a fixed name let that thread's profile overwrite the server's own.
    nodeFlags: profile ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, kind)}`] : [],
    ...(stdoutFd === undefined ? {} : { stdoutFd }),
  });
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  const { port } = await started.first;
  return { child: started.child, address: `127.0.0.1:${port}`, dir };
}

async function stopServer(server: RunningServer): Promise<void> {
  await stopChild(server.child, "stop");
  rmSync(server.dir, { recursive: true, force: true });
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
        answer.ok && answer.stats ? resolve(answer.stats) : reject(new Error(answer.error)),
      );
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

type DriverName = "h2load" | "ghz" | "grpc-js" | "node:http";

function driverFor(spec: RunSpec): DriverName {
  if (!forceInRepo && H2LOAD_ON_PATH && spec.h2load !== undefined) return "h2load";
  if (spec.job.protocol === "http") return "node:http";
  return !forceInRepo && GHZ_ON_PATH ? "ghz" : "grpc-js";
}

/** The h2load job of a single-payload run: its AdjustBalance call, framed for its protocol. */
function h2loadJob(spec: RunSpec, address: string): H2loadJob {
  const calls = workload(spec.job.workload);
  const call = calls.find((candidate) => candidate.path.endsWith("/AdjustBalance")) ?? calls[0];
  if (call === undefined || spec.h2load === undefined) throw new Error(`${spec.id} has no single payload for h2load`);
  const encode = (body: Buffer, json: string) => (spec.job.protocol === "grpc" ? grpcFrame(body) : Buffer.from(json));
  const warm = spec.ownServer === true ? warmupCall() : call;
  const warmupTotal = spec.ownServer === true ? sizes.warmup : spec.job.warmup;
  return {
    ...spec.h2load,
    protocol: spec.job.protocol,
    url: `http://${address}${call.path}`,
    body: encode(call.body, call.json),
    total: spec.job.total,
    warmup: { url: `http://${address}${warm.path}`, body: encode(warm.body, warm.json), total: warmupTotal },
  };
}

async function drive(spec: RunSpec, driverName: DriverName, driver: Driver, address: string): Promise<RunStats> {
  const job: DriverJob = { ...spec.job, address };
  switch (driverName) {
    case "h2load":
      return runH2load(h2loadJob(spec, address));
    case "ghz":
      return runGhz(job);
    default:
      return driver.run(job);
  }
}

/** The command line that reproduces a run against `npm start` on its default port. */
function commandOf(spec: RunSpec, driverName: DriverName, runAddress: string): string | null {
  const address = runAddress.replace(/:\d+$/, ":50051");
  if (driverName === "h2load") {
    const { body: _body, warmup: _warmup, ...job } = h2loadJob(spec, address);
    return h2loadCommand(job);
  }
  return spec.job.protocol === "grpc" ? ghzCommand(spec.job, address) : null;
}

function logRun(record: RunRecord): void {
  const { stats } = record;
  console.log(
    `${record.id} [${record.driver}, load ${record.loadAverage1m.toFixed(2)}]: ${stats.count} calls, ${stats.callsPerSec} calls/s, ` +
      `p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms, ${JSON.stringify(stats.codes)}`,
  );
}

/** A wallet run on a server of its own: load the account, run, read the balance, stop, tally the log. */
async function runWallet(
  spec: RunSpec,
  driver: Driver,
  commands: string[],
): Promise<{ record: RunRecord; check: { exact: boolean; line: string } }> {
  const logDir = mkdtempSync(join(tmpdir(), "ledger-bench-log-"));
  const logPath = join(logDir, "access.log");
  const userId = spec.job.workload === "wallet" ? WALLET_USER : HTTP_WALLET_USER;
  const driverName = driverFor(spec);
  const server = await startServer(spec.server, logPath);
  try {
    await withClient(server.address, (client) =>
      client.unary(LedgerService.method.load, { userId, amount: WALLET_START }),
    );
    const command = commandOf(spec, driverName, server.address);
    if (command !== null) commands.push(command);
    const loadAverage1m = loadavg()[0] ?? 0;
    const stats = await drive(spec, driverName, driver, server.address);
    const balance = await withClient(server.address, (client) =>
      client.unary(LedgerService.method.getBalance, { userId }),
    );
    await stopServer(server);
    const serverCodes = tallyAccessLog(logPath, `${LedgerService.typeName}/AdjustBalance`);
    const check = walletVerdict({
      id: spec.id,
      driver: driverName,
      protocol: spec.job.protocol,
      stats,
      finalBalance: balance.balances[0]?.balance,
      serverCodes,
    });
    const record: RunRecord = { ...spec, driver: driverName, loadAverage1m, stats, serverCodes };
    logRun(record);
    console.log(`  ${check.line}`);
    return { record, check };
  } finally {
    await stopServer(server);
    rmSync(logDir, { recursive: true, force: true });
  }
}

/**
 * h2load cannot see gRPC codes, so a hot-account run over gRPC is checked by its effect: every
 * call adds 1 to the hot account, and the balance must have grown by exactly the calls sent
 * (warm-up included). A run whose calls failed would otherwise look fast.
 */
async function hotBalance(address: string): Promise<bigint> {
  const answer = await withClient(address, (client) =>
    client.unary(LedgerService.method.getBalance, { userId: HOT_USER }).catch(() => undefined),
  );
  return answer?.balances[0]?.balance ?? 0n;
}

function checksBalance(spec: RunSpec, driverName: DriverName): boolean {
  return (
    driverName === "h2load" &&
    spec.job.protocol === "grpc" &&
    spec.job.workload === "hot-writes" &&
    spec.server.startsWith("ledger")
  );
}

/** Runs sharing one server, in order; the balance checks' lines go to `checks`. */
async function runShared(
  kind: ServerKind,
  specs: RunSpec[],
  driver: Driver,
  commands: string[],
  checks: { exact: boolean; line: string }[],
): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const server = await startServer(kind);
  try {
    for (const spec of specs) {
      const driverName = driverFor(spec);
      const command = commandOf(spec, driverName, server.address);
      if (command !== null) commands.push(command);
      const checked = checksBalance(spec, driverName);
      const before = checked ? await hotBalance(server.address) : 0n;
      const loadAverage1m = loadavg()[0] ?? 0;
      const stats = await drive(spec, driverName, driver, server.address);
      const record: RunRecord = { ...spec, driver: driverName, loadAverage1m, stats };
      logRun(record);
      records.push(record);
      if (checked) {
        const applied = (await hotBalance(server.address)) - before;
        const sent = BigInt(spec.job.total + spec.job.warmup);
        const check = {
          exact: applied === sent,
          line: `${spec.id}: ${applied === sent ? "ALL APPLIED" : "NOT ALL APPLIED"} (hot balance grew by ${applied}, calls sent ${sent} with warm-up)`,
        };
        console.log(`  ${check.line}`);
        checks.push(check);
      }
    }
  } finally {
    await stopServer(server);
  }
  return records;
}

/** Stops early, with a clear message, when the 10,000-connection runs cannot open their sockets. */
function checkDescriptors(specs: RunSpec[]): void {
  if (!specs.some((spec) => spec.job.protocol === "http" && spec.job.connections >= 10_000)) return;
  const limit = Number(execSync("ulimit -n", { shell: "/bin/sh" }).toString().trim());
  if (Number.isFinite(limit) && limit < DESCRIPTORS_NEEDED) {
    throw new Error(
      `ulimit -n is ${limit}; the 10,000-connection runs need ${DESCRIPTORS_NEEDED} (raise it with ulimit -n 20000)`,
    );
  }
}

async function runStoreCeilings(): Promise<StoreCeilingRecord[]> {
  const records: StoreCeilingRecord[] = [];
  for (const durability of ["full", "normal"]) {
    for (const concurrency of [100, 1000]) {
      const started = startScript<RunStats>(
        "store-ceiling.ts",
        [durability, "spread", String(sizes.otherTotal), String(concurrency)],
        {
          core: PINNING?.server,
          env: SERVER_ENV,
        },
      );
      const stats = await started.first;
      await stopChild(started.child, undefined);
      records.push({ id: `store-${durability}-c${concurrency}`, durability, concurrency, stats });
      console.log(
        `store alone ${durability} c=${concurrency}: ${stats.callsPerSec} calls/s, p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms`,
      );
    }
  }
  // Transfers (two-account group mutations) through the same store, durable, at c=100.
  const transfers = startScript<RunStats>("store-ceiling.ts", ["full", "transfer", String(sizes.otherTotal), "100"], {
    core: PINNING?.server,
    env: SERVER_ENV,
  });
  const stats = await transfers.first;
  await stopChild(transfers.child, undefined);
  records.push({ id: "store-transfer-full-c100", durability: "full", concurrency: 100, stats });
  console.log(`store alone transfers full c=100: ${stats.callsPerSec} calls/s, p99 ${stats.latencyMs.p99} ms`);
  // Holds: a manual-capture Authorize then its final Capture, per operation, durable, at c=100.
  const holds = startScript<RunStats>("store-ceiling.ts", ["full", "hold", String(sizes.otherTotal / 2), "100"], {
    core: PINNING?.server,
    env: SERVER_ENV,
  });
  const holdStats = await holds.first;
  await stopChild(holds.child, undefined);
  records.push({ id: "store-hold-capture-full-c100", durability: "full", concurrency: 100, stats: holdStats });
  console.log(
    `store alone hold-then-capture full c=100: ${holdStats.callsPerSec} pairs/s, p99 ${holdStats.latencyMs.p99} ms`,
  );
  // Batches of ten transfers (twenty entries a call) through the same store, durable, at c=100.
  const batchCalls = String(Math.max(1, Math.round(sizes.otherTotal / 10)));
  const batches = startScript<RunStats>("store-ceiling.ts", ["full", "batch", batchCalls, "100"], {
    core: PINNING?.server,
    env: SERVER_ENV,
  });
  const batchStats = await batches.first;
  await stopChild(batches.child, undefined);
  records.push({ id: "store-batch10-full-c100", durability: "full", concurrency: 100, stats: batchStats });
  console.log(
    `store alone 10-transfer batches full c=100: ${batchStats.callsPerSec} calls/s, p99 ${batchStats.latencyMs.p99} ms`,
  );
  return records;
}

/** Scenario 6: vendor rows per second through the poller's catch-up, rate limit lifted. */
async function runIngest(): Promise<IngestRecord> {
  const started = startScript<IngestRecord>("ingest-rate.ts", [String(quick ? 20_000 : 100_000)], {
    core: PINNING?.server,
  });
  const record = await started.first;
  await stopChild(started.child, undefined);
  console.log(`ingest: ${record.rows} rows in ${record.durationMs} ms, ${record.rowsPerSec} rows/s`);
  return record;
}

/**
 * `--rounds=N`: the runs N times over, one round after the other, each with fresh servers; the
 * summary gives every target's ratio per round and the median (see `renderRounds`).
 */
function roundsWanted(): number {
  const text = process.argv.find((arg) => arg.startsWith("--rounds="))?.slice("--rounds=".length) ?? "1";
  const rounds = Number(text);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    console.error(`--rounds must be a whole number from 1 to 20, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return rounds;
}

interface Round {
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly loadBefore: number;
  readonly records: RunRecord[];
  readonly checks: { exact: boolean; line: string }[];
  readonly commands: string[];
}

/** Every selected run once, in the order of the plan: shared servers first-come, wallets alone. */
async function runRound(specs: readonly RunSpec[]): Promise<Round> {
  const startedAt = new Date();
  // Other work on the machine skews every figure; the report shows how busy it was.
  const loadBefore = loadavg()[0] ?? 0;
  const records: RunRecord[] = [];
  const checks: { exact: boolean; line: string }[] = [];
  const commands: string[] = [];
  const driver = await Driver.start();
  try {
    const done = new Set<RunSpec>();
    for (const spec of specs) {
      if (done.has(spec)) continue;
      if (spec.ownServer === true) {
        done.add(spec);
        const { record, check } = await runWallet(spec, driver, commands);
        records.push(record);
        checks.push(check);
        continue;
      }
      const group = specs.filter((candidate) => candidate.server === spec.server && candidate.ownServer !== true);
      group.forEach((member) => done.add(member));
      records.push(...(await runShared(spec.server, group, driver, commands, checks)));
    }
  } finally {
    await driver.stop();
  }
  return { startedAt, endedAt: new Date(), loadBefore, records, checks, commands };
}

async function main(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const rounds = roundsWanted();
  const specs = plan(sizes).filter((spec) => only === undefined || only.includes(spec.id));
  checkDescriptors(specs);
  const done: Round[] = [];
  for (let round = 0; round < rounds; round++) done.push(await runRound(specs));
  const storeCeilings = only === undefined || only.includes("store") ? await runStoreCeilings() : [];
  const ingest = only === undefined || only.includes("ingest") ? await runIngest() : null;
  const reports = done.map((round): BenchReport => {
    const drivers = [...new Set(round.records.map((record) => record.driver))];
    return {
      startedAt: round.startedAt.toISOString(),
      durationS: Math.round((round.endedAt.getTime() - round.startedAt.getTime()) / 1000),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cores: CORES,
      cpuModel: cpus()[0]?.model ?? "unknown",
      pinning:
        PINNING === null ? "none" : `server and store on core ${PINNING.server}, driver on core ${PINNING.driver}`,
      quick,
      driver: drivers.join(", "),
      loadAverage: `${round.loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after (1-minute)`,
      settings: { ...SERVER_ENV, ...sizes },
      runs: round.records,
      storeCeilings,
      ingest,
      checks: round.checks.map((check) => check.line),
      ghzCommands: [...new Set(round.commands)],
    };
  });
  const startedAt = done[0]?.startedAt ?? new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  const [only1] = reports;
  const markdown = reports.length === 1 && only1 !== undefined ? renderMarkdown(only1) : renderRounds(reports);
  const json = reports.length === 1 ? reports[0] : { rounds: reports };
  for (const name of [`bench-${stamp}`, "latest"]) {
    writeFileSync(
      join(RESULTS_DIR, `${name}.json`),
      `${JSON.stringify(json, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value), 2)}\n`,
    );
    writeFileSync(join(RESULTS_DIR, `${name}.md`), markdown);
  }
  console.log(`\n${markdown}\nwritten to bench/results/bench-${stamp}.{json,md} and bench/results/latest.{json,md}`);
  if (done.some((round) => round.checks.some((check) => !check.exact))) process.exitCode = 1;
}

// `--store=postgres`: the PostgreSQL scenarios, 1 and 2 processes, with their own ceiling.
if (process.argv.includes("--store=postgres")) await (await import("./postgres-run.js")).runPostgresBench();
else await main();

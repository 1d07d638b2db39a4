/**
 * `npx tsx bench/sqlite-processes.ts [--quick]`: are several service processes over one SQLite
 * file (WAL, BEGIN IMMEDIATE, busy timeout) correct and faster? The service refuses
 * LEDGER_WORKERS>1 on SQLite; this measures what that refusal gives up. K independent processes
 * (K = 1, 2, 3) serve one file on K ports; K drivers run at once, each on its own process, and
 * the throughput is all calls over the longest driver's time. The wallet scenario runs over the
 * K processes too and must stay exact.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { ChildServer, freePort } from "../test/support/child-server.js";
import { GrpcTestClient } from "../test/support/grpc-client.js";
import { auditLedger } from "../test/support/ledger-audit.js";
import type { DriverJob } from "./driver.js";
import { startScript, stopChild } from "./lib/processes.js";
import type { RunStats } from "./lib/stats.js";
import { WALLET_USER } from "./lib/workload.js";

const total = process.argv.includes("--quick") ? 20_000 : 60_000;

async function drive(job: DriverJob): Promise<RunStats> {
  const started = startScript<{ ready: true }>("driver.ts", [], { core: undefined });
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

for (const processes of [1, 2, 3]) {
  const dir = mkdtempSync(join(tmpdir(), "ledger-sqlite-processes-"));
  const dbPath = join(dir, "ledger.db");
  const servers: ChildServer[] = [];
  try {
    for (let index = 0; index < processes; index += 1) {
      // One at a time: the first migrates the file.
      const server = new ChildServer(await freePort(), {
        LEDGER_DB: dbPath,
        LEDGER_LOG_LEVEL: "warn",
        LEDGER_AUTH: "off",
      });
      await server.start();
      servers.push(server);
    }
    const startedAt = performance.now();
    const runs = await Promise.all(
      servers.map((server) =>
        drive({
          protocol: "grpc",
          address: server.address,
          workload: "spread-writes",
          total: Math.floor(total / processes),
          concurrency: Math.floor(100 / processes),
          connections: 1,
          warmup: 0,
        }),
      ),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    const ok = runs.reduce((sum, run) => sum + (run.codes.OK ?? 0), 0);
    const codes = runs.map((run) => JSON.stringify(run.codes)).join(" ");
    const client = new GrpcTestClient(servers[0]!.address);
    await client.unary(LedgerService.method.load, { userId: WALLET_USER, amount: 10_000n });
    client.close();
    const clients = servers.map((server) => new GrpcTestClient(server.address));
    const outcomes = await Promise.all(
      Array.from({ length: 10_000 }, (_, index) =>
        clients[index % clients.length]!.unary(LedgerService.method.adjustBalance, {
          userId: WALLET_USER,
          amount: -2n,
        }).then(
          () => "OK",
          (error: { code?: number }) => String(error.code),
        ),
      ),
    );
    for (const each of clients) each.close();
    const histogram: Record<string, number> = {};
    for (const outcome of outcomes) histogram[outcome] = (histogram[outcome] ?? 0) + 1;
    const audit = await auditLedger(dbPath);
    console.log(
      `${processes} process(es) on one SQLite file: sustained c100 ${Math.round(ok / seconds)} calls/s (${codes}); ` +
        `wallet ${JSON.stringify(histogram)}; verify ${audit.report.mismatches.length === 0 ? "clean" : `${audit.report.mismatches.length} mismatches`}`,
    );
  } finally {
    for (const server of servers) await server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

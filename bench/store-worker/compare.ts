/**
 * Prototype only: does a SQLite writer on its own worker thread beat today's in-thread group
 * commit? Each "call" does the CPU work of an RPC on the main thread (decode an AdjustBalance
 * request, encode its response, format an access-log line), then waits for a durable write of
 * one mutation on a hot account or over 1,000 accounts. The in-thread committer blocks the event
 * loop for each batch's commit and fsync; the worker committer lets the main thread keep parsing
 * and answering while the worker commits. Rounds alternate the two, on fresh databases.
 *
 * Usage: npx tsx bench/store-worker/compare.ts [total=50000] [rounds=2]
 * (run it under `taskset -c 0` to give both threads one core, as the bench gives the server).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AdjustBalanceRequestSchema, AdjustBalanceResponseSchema } from "../../gen/ledger/v1/ledger_pb.js";
import { summarize, type RunStats } from "../lib/stats.js";
import { InThreadCommitter, WorkerCommitter, type Committer } from "./committers.js";

const total = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 2);
const requestBytes = toBinary(
  AdjustBalanceRequestSchema,
  create(AdjustBalanceRequestSchema, { userId: "acct-0001", amount: 1n }),
);

async function run(committer: Committer, concurrency: number, spread: boolean): Promise<RunStats> {
  const latencies = new Float64Array(total);
  let started = 0;
  let sink = 0;
  const startedAt = performance.now();
  const caller = async () => {
    while (started < total) {
      const index = started++;
      const callStartedAt = performance.now();
      const request = fromBinary(AdjustBalanceRequestSchema, requestBytes);
      const userId = spread ? `acct-${(index * 7919) % 1000}` : "hot";
      const balanceAfter = await committer.submit(userId, request.amount);
      const response = toBinary(
        AdjustBalanceResponseSchema,
        create(AdjustBalanceResponseSchema, { userId, currency: "USD", amount: request.amount, balanceAfter }),
      );
      sink +=
        JSON.stringify({
          level: 30,
          method: "ledger.v1.LedgerService/AdjustBalance",
          code: "OK",
          durationMs: performance.now() - callStartedAt,
        }).length + response.length;
      latencies[index] = performance.now() - callStartedAt;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  if (sink === 0) throw new Error("unreachable");
  return summarize(latencies, { OK: total }, performance.now() - startedAt);
}

console.log(
  `Node ${process.version}, ${availableParallelism()} cores visible, load average ${loadavg()[0]?.toFixed(2)}, ${total} calls per row`,
);
console.log(
  "| round | writer | accounts | concurrency | calls/s | p50 ms | p99 ms |\n|---:|---|---|---:|---:|---:|---:|",
);
for (let round = 1; round <= rounds; round++) {
  for (const spread of [false, true]) {
    for (const concurrency of [100, 1000]) {
      for (const [name, make] of [
        ["in-thread", (file: string) => new InThreadCommitter(file)],
        ["worker", (file: string) => new WorkerCommitter(file)],
      ] as const) {
        const dir = mkdtempSync(join(tmpdir(), "ledger-store-worker-"));
        const committer = make(join(dir, "w.db"));
        if (committer instanceof WorkerCommitter) await committer.started;
        const stats = await run(committer, concurrency, spread);
        await committer.close();
        rmSync(dir, { recursive: true, force: true });
        console.log(
          `| ${round} | ${name} | ${spread ? "1,000" : "one"} | ${concurrency} | ${stats.callsPerSec} | ${stats.latencyMs.p50} | ${stats.latencyMs.p99} |`,
        );
      }
    }
  }
}
console.log(`load average after: ${loadavg()[0]?.toFixed(2)}`);

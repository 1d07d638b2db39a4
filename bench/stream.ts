/**
 * Stream throughput: entries per second delivered to one StreamEntries consumer (native gRPC)
 * while writers run a sustained mix of Loads and Authorizes over many users through the same
 * server, and the ratio to the write rate of the same run. A consumer that keeps up delivers
 * at the write rate (ratio 1); below 1 it falls behind and catches up from the store later.
 * Then the rate of a consumer that replays the whole ledger from the first entry, writes stopped.
 *
 * Usage: npx tsx bench/stream.ts [sqlite|postgres|postgres://…] [seconds=10] [concurrency=64]
 * (`postgres` starts an embedded PostgreSQL, as the tests do.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { build } from "../src/server.js";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { GrpcTestClient } from "../test/support/grpc-client.js";
import { openStream } from "../test/support/entry-stream-client.js";
import { createDatabase, startEmbeddedPostgres, type RunningPostgres } from "../test/support/postgres-server.js";

const [target = "sqlite", secondsText = "10", concurrencyText = "64"] = process.argv.slice(2);
const durationMs = Number(secondsText) * 1000;
const concurrency = Number(concurrencyText);
const dir = mkdtempSync(join(tmpdir(), "ledger-bench-stream-"));
let embedded: RunningPostgres | undefined;
if (target === "postgres") embedded = await startEmbeddedPostgres();
const config = readConfig({
  LEDGER_PORT: "0",
  LEDGER_DB: target === "sqlite" ? join(dir, "ledger.db") : embedded ? await createDatabase(embedded.adminUrl) : target,
  LEDGER_LOG_LEVEL: "silent",
});
const app = await build(config, createLogger(config.logLevel));
const { port } = await app.listen();
const writer = new GrpcTestClient(`127.0.0.1:${port}`);
const reader = new GrpcTestClient(`127.0.0.1:${port}`);

// Warm up, and learn where the stream starts.
const first = await writer.unary(LedgerService.method.load, { userId: "warm", amount: 1n });
const stream = openStream(reader, { start: { case: "afterEntryId", value: first.entryId } });

let written = 0;
let lastWrittenId = first.entryId;
const startedMs = performance.now();
const deadlineMs = startedMs + durationMs;
await Promise.all(
  Array.from({ length: concurrency }, async (_, worker) => {
    for (let call = 0; performance.now() < deadlineMs; call += 1) {
      const userId = `user-${(worker * 7919 + call) % 1000}`;
      const answer =
        call % 3 === 2
          ? await writer.unary(LedgerService.method.authorize, { userId, amount: 1n })
          : await writer.unary(LedgerService.method.load, { userId, amount: 5n });
      written += 1;
      if (answer.entryId > lastWrittenId) lastWrittenId = answer.entryId;
    }
  }),
);
const writeMs = performance.now() - startedMs;
const deliveredDuringWrites = stream.received.length;
await stream.until(written);
const catchUpMs = performance.now() - startedMs - writeMs;
stream.call.cancel();
await stream.ended.catch(() => undefined);
const lastCursor = stream.received.at(-1)?.cursor;

// Catch-up: a consumer that starts from the first entry reads the whole ledger from the store.
const replayStartedMs = performance.now();
const replay = openStream(reader, { start: { case: "afterEntryId", value: 0n }, maxEntries: BigInt(written + 1) });
await replay.ended;
const replayPerSecond = replay.received.length / ((performance.now() - replayStartedMs) / 1000);

const writesPerSecond = written / (writeMs / 1000);
const deliveredPerSecond = deliveredDuringWrites / (writeMs / 1000);
console.log(
  JSON.stringify(
    {
      store: target === "sqlite" ? "sqlite" : "postgres",
      seconds: Number(secondsText),
      concurrency,
      written,
      writesPerSecond: Math.round(writesPerSecond),
      deliveredDuringWrites,
      deliveredPerSecond: Math.round(deliveredPerSecond),
      ratio: Number((deliveredPerSecond / writesPerSecond).toFixed(3)),
      catchUpMs: Math.round(catchUpMs),
      replayEntries: replay.received.length,
      replayPerSecond: Math.round(replayPerSecond),
      complete: lastCursor === lastWrittenId && stream.received.length === written,
      loadAverage1m: Number(loadavg()[0]?.toFixed(2)),
    },
    null,
    1,
  ),
);
writer.close();
reader.close();
await app.shutdown();
await embedded?.stop();
rmSync(dir, { recursive: true, force: true });

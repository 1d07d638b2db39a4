/**
 * Scenario 6, ingest: vendor rows per second. A catch-up run of the poller (as `npm run ingest`
 * does it) reads `rows` transactions from the fake vendor, rate limit lifted and no faults, into
 * a fresh durable store. The fake vendor runs in this process too, so its CPU (generating and
 * serialising rows) comes out of the same core: the figure is a lower bound.
 *
 * Usage (the bench runner calls it): ingest-rate.ts <rows>
 */
import { readVendorConfig } from "../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor } from "../tools/fake-vendor/server.js";
import { runVendorBackfill } from "../src/ingest/poller.js";
import { createLogger } from "../src/logger.js";
import { openBenchStore } from "./lib/bench-store.js";

const rows = Number(process.argv[2] ?? 100_000);
const minutes = 10;
const endMs = Date.now() - 5 * 60_000;
const startMs = endMs - minutes * 60_000;
const vendor = await startFakeVendor({
  data: {
    seed: 1,
    txPerMinute: Math.ceil(rows / minutes),
    users: 1000,
    startMs,
    endMs,
    badRowRate: 0,
    lateRate: 0,
    lateMaxMs: 0,
  },
  faults: NO_FAULTS,
  requestsPerWindow: 0,
  rateWindowMs: 60_000,
  pageSizeMax: 1000,
  host: "127.0.0.1",
  port: 0,
});
const { store, remove } = await openBenchStore("ledger-bench-ingest-");
const config = readVendorConfig({
  LEDGER_VENDOR_URL: vendor.url,
  LEDGER_VENDOR_START: new Date(startMs).toISOString(),
  LEDGER_VENDOR_REQUESTS_PER_MINUTE: "1000000",
  LEDGER_VENDOR_LATENESS_MS: "0",
});
if (config === undefined) throw new Error("vendor configuration missing");
const startedAt = performance.now();
const status = await runVendorBackfill({ store, config, logger: createLogger("silent") });
const durationMs = performance.now() - startedAt;
await store.close();
await vendor.close();
remove();
process.send?.({
  rows: status.rowsIngested,
  durationMs: Math.round(durationMs),
  rowsPerSec: Math.round((status.rowsIngested / durationMs) * 1000),
  requests: status.requestsUsed,
  lastError: status.lastError,
});

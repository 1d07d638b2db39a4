/**
 * Lag of the service's poller under the default vendor budget, for docs/ingest.md:
 *   npx tsx bench/ingest-lag.ts [minutes] [transactions per minute] [minutes of history, default 5]
 * At 4,000 a minute, five minutes of history take the default budget about 20 minutes to backfill
 * (1,000 spare rows a minute); 0 starts at the present and measures following alone.
 * Rows per second with the budget lifted is scenario 6 of `npm run bench` (bench/ingest-rate.ts).
 */
import { readVendorConfig } from "../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor } from "../tools/fake-vendor/server.js";
import { startVendorPoller } from "../src/ingest/poller.js";
import { openBenchStore } from "./lib/bench-store.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const { store, remove } = await openBenchStore("ledger-ingest-bench-");
const nowMs = Date.now();

try {
  const minutes = Number(process.argv[2] ?? "5");
  const txPerMinute = Number(process.argv[3] ?? "1000");
  const historyMinutes = Number(process.argv[4] ?? "5");
  const startMs = Math.floor((nowMs - historyMinutes * 60_000) / 1000) * 1000;
  const vendor = await startFakeVendor({
    data: { seed: 5, txPerMinute, users: 500, startMs, badRowRate: 0.001, lateRate: 0.01, lateMaxMs: 30_000 },
    faults: NO_FAULTS,
    requestsPerWindow: 5,
    rateWindowMs: 60_000,
    pageSizeMax: 1000,
    host: "127.0.0.1",
    port: 0,
  });
  const config = readVendorConfig({
    LEDGER_VENDOR_URL: vendor.url,
    LEDGER_VENDOR_START: new Date(startMs).toISOString(),
  });
  const poller = startVendorPoller({ store, config: config!, logger: quiet });
  const samples: number[] = [];
  for (let second = 0; second < minutes * 60; second += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const status = poller.status();
    if (status.state === "following" && status.lagMs !== null) samples.push(status.lagMs);
    if (second % 30 === 29)
      console.error(
        JSON.stringify({
          second: second + 1,
          state: status.state,
          lagMs: status.lagMs,
          requests: status.requestsUsed,
          rows: status.rowsIngested,
          closedUntil: status.closedUntil,
          windowsClosedByCount: status.windowsClosedByCount,
          requestsByPurpose: status.requestsByPurpose,
        }),
      );
  }
  await poller.stop();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  console.log(
    JSON.stringify({
      node: process.version,
      txPerMinute,
      minutes,
      followingSamples: samples.length,
      lagMsP50: at(0.5),
      lagMsP99: at(0.99),
      lagMsMax: samples.at(-1),
      status: poller.status(),
      vendor: vendor.stats(),
    }),
  );
  await vendor.close();
} finally {
  await store.close();
  remove();
}

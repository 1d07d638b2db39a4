/**
 * Ceiling (c): the store alone, without RPC. The same mix of writes as the sustained scenario
 * (Load and AdjustBalance over 1,000 accounts, or on one) goes straight to the domain and the
 * SQLite store with group commit, at the same concurrency, in a process of its own.
 *
 * Usage (the bench runner calls it): store-ceiling.ts <full|normal> <spread|hot> <total> <concurrency>
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger } from "../src/domain/ledger.js";
import { openSqliteStore, type Durability } from "../src/store/sqlite/index.js";
import { summarize } from "./lib/stats.js";
import { ACCOUNT_COUNT, HOT_USER, accountName } from "./lib/workload.js";

const [durability = "full", spread = "spread", totalText = "200000", concurrencyText = "100"] = process.argv.slice(2);
const total = Number(totalText);
const concurrency = Number(concurrencyText);
const dir = mkdtempSync(join(tmpdir(), "ledger-bench-store-"));
const store = await openSqliteStore({
  filename: join(dir, "ledger.db"),
  durability: durability as Durability,
  batchSizeMax: Number(process.env.LEDGER_WRITE_BATCH_MAX ?? 1000),
  queueDepthMax: Number(process.env.LEDGER_WRITE_QUEUE_MAX ?? 50_000),
  busyTimeoutMs: 2000,
});
const ledger = new Ledger(store, { defaultCurrency: "USD" });
const latencies = new Float64Array(total);
const codes: Record<string, number> = {};
let started = 0;
const startedAt = performance.now();

async function worker(): Promise<void> {
  while (started < total) {
    const index = started++;
    const input = {
      userId: spread === "hot" ? HOT_USER : accountName((index * 7919) % ACCOUNT_COUNT),
      amount: 1n,
      currency: "USD",
      idempotencyKey: null,
    };
    const callStartedAt = performance.now();
    const outcome = await (index % 2 === 0 ? ledger.load(input) : ledger.adjust(input));
    latencies[index] = performance.now() - callStartedAt;
    const code = outcome.ok ? "OK" : outcome.failure.kind.toUpperCase();
    codes[code] = (codes[code] ?? 0) + 1;
  }
}

await Promise.all(Array.from({ length: concurrency }, () => worker()));
const stats = summarize(latencies, codes, performance.now() - startedAt);
await store.close();
rmSync(dir, { recursive: true, force: true });
process.send?.(stats);

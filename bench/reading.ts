/**
 * History paging and balances as of an instant on one large account, SQLite store: a million
 * entries are inserted directly (a running balance, one entry per millisecond), then the
 * domain's reads are timed at random positions. Store-level figures: no RPC.
 *
 * Usage: npx tsx bench/reading.ts [entries=1000000] [samples=2000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Ledger } from "../src/domain/ledger.js";
import { migrateToLatest } from "../src/store/migrate.js";
import { openSqliteStore } from "../src/store/sqlite/index.js";
import { timeReadsAndPrint } from "./lib/reading-reads.js";

const [entriesText = "1000000", samplesText = "2000"] = process.argv.slice(2);
const entryCount = Number(entriesText);
const samples = Number(samplesText);
const dir = mkdtempSync(join(tmpdir(), "ledger-bench-reading-"));
const filename = join(dir, "ledger.db");
const startMs = Date.UTC(2026, 0, 1);

await migrateToLatest({ dialect: "sqlite", filename });
const raw = new Database(filename);
raw.pragma("journal_mode = WAL");
const insert = raw.prepare(`
  INSERT INTO entries (user_id, currency, kind, status, amount, delta, balance_after, idempotency_key,
    external_id, occurred_at_ms, created_at_ms) VALUES ('big', 'USD', ?, 'applied', ?, ?, ?, NULL, NULL, ?, ?)`);
const fillStartedMs = performance.now();
let balance = 0n;
let earned = 0n;
let spent = 0n;
raw.transaction(() => {
  for (let i = 0; i < entryCount; i += 1) {
    // Two loads of 100 for each authorization of 150: the balance only grows.
    const isLoad = i % 3 !== 2;
    const amount = isLoad ? 100n : 150n;
    const delta = isLoad ? amount : -amount;
    balance += delta;
    if (isLoad) earned += amount;
    else spent += amount;
    insert.run(isLoad ? "load" : "authorize", amount, delta, balance, startMs + i, startMs + i);
  }
  raw
    .prepare(
      `INSERT INTO accounts (user_id, currency, balance, earned, spent, payout_requested, paid_out, loaded,
        authorized, declined_count, entry_count, created_at_ms, updated_at_ms)
      VALUES ('big', 'USD', ?, ?, ?, 0, 0, ?, ?, 0, ?, ?, ?)`,
    )
    .run(balance, earned, spent, earned, spent, entryCount, startMs, startMs + entryCount - 1);
})();
raw.close();
const fillMs = performance.now() - fillStartedMs;

const store = await openSqliteStore({
  filename,
  durability: "full",
  batchSizeMax: 1000,
  queueDepthMax: 1000,
  busyTimeoutMs: 2000,
});
const ledger = new Ledger(store, { defaultCurrency: "USD" });

await timeReadsAndPrint({ ledger, store, startMs, entryCount, firstId: 1n, samples }, fillMs);
await store.close();
rmSync(dir, { recursive: true, force: true });

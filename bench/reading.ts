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
    .prepare(`INSERT INTO accounts VALUES ('big', 'USD', ?, ?, ?, 0, 0, ?, ?, 0, ?, ?, ?)`)
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

interface Figures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function summarize(latenciesMs: Float64Array): Figures {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (quantile: number) => Number((sorted[Math.floor(quantile * (sorted.length - 1))] ?? 0).toFixed(3));
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

async function time(run: (index: number) => Promise<void>): Promise<Figures> {
  const latencies = new Float64Array(samples);
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    await run(i);
    latencies[i] = performance.now() - started;
  }
  return summarize(latencies);
}

const at = () => startMs + Math.floor(Math.random() * entryCount);
const asOf = await time(async () => {
  const result = await ledger.getBalance({ userId: "big", asOfMs: at() });
  if (!result.ok || result.value.length !== 1) throw new Error("as_of found nothing");
});
const asOfRecent = await time(async () => {
  const result = await ledger.getBalance({
    userId: "big",
    asOfMs: startMs + entryCount - 1 - Math.floor(Math.random() * 1000),
  });
  if (!result.ok) throw new Error("as_of failed");
});
const seek = await time(async () => {
  if ((await store.lastEntryAsOf({ userId: "big", currency: "USD" }, at())) === undefined) throw new Error("no entry");
});
const pageAt = (order: "newest_first" | "oldest_first") => async () => {
  const result = await ledger.listEntries({
    userId: "big",
    order,
    limit: 100,
    afterId: BigInt(1 + Math.floor(Math.random() * (entryCount - 200)) + (order === "newest_first" ? 200 : 0)),
  });
  if (!result.ok || result.value.entries.length !== 100) throw new Error("short page");
};
const pageOldest = await time(pageAt("oldest_first"));
const pageNewest = await time(pageAt("newest_first"));
await store.close();
rmSync(dir, { recursive: true, force: true });

const row = (name: string, figures: Figures) =>
  console.log(`| ${name} | ${figures.p50Ms} | ${figures.p99Ms} | ${figures.maxMs} |`);
console.log(
  `entries on the account: ${entryCount}; filled in ${(fillMs / 1000).toFixed(1)} s; ${samples} samples each`,
);
console.log("| read | p50 ms | p99 ms | max ms |\n|---|---|---|---|");
row("GetBalance as_of, random instant (seek + grouped totals)", asOf);
row("GetBalance as_of, within the last 1,000 entries", asOfRecent);
row("last entry as of (the seek alone: the balance)", seek);
row("ListEntries page of 100, oldest first, random depth", pageOldest);
row("ListEntries page of 100, newest first, random depth", pageNewest);

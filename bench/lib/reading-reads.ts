/**
 * The reads `bench/reading.ts` (SQLite) and `bench/reading-postgres.ts` time on one large account
 * ("big", USD, one entry per millisecond from `startMs`), and the table both print: the stores
 * differ only in how the account is filled.
 */
import { loadavg } from "node:os";
import type { Ledger } from "../../src/domain/ledger.js";
import type { LedgerStore } from "../../src/store/store.js";

export interface ReadingAccount {
  readonly ledger: Ledger;
  readonly store: LedgerStore;
  readonly startMs: number;
  readonly entryCount: number;
  /** The account's first entry id. */
  readonly firstId: bigint;
  readonly samples: number;
}

interface Figures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function time(samples: number, run: () => Promise<void>): Promise<Figures> {
  const latencies = new Float64Array(samples);
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    await run();
    latencies[i] = performance.now() - started;
  }
  const sorted = latencies.sort();
  const at = (quantile: number) => Number((sorted[Math.floor(quantile * (sorted.length - 1))] ?? 0).toFixed(3));
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

/** Times each read `samples` times at random positions and prints the table. */
export async function timeReadsAndPrint(account: ReadingAccount, fillMs: number): Promise<void> {
  const { ledger, store, startMs, entryCount, firstId, samples } = account;
  const randomInstant = () => startMs + Math.floor(Math.random() * entryCount);
  const asOf = await time(samples, async () => {
    const result = await ledger.getBalance({ userId: "big", asOfMs: randomInstant() });
    if (!result.ok || result.value.length !== 1) throw new Error("as_of found nothing");
  });
  const asOfRecent = await time(samples, async () => {
    const asOfMs = startMs + entryCount - 1 - Math.floor(Math.random() * 1000);
    if (!(await ledger.getBalance({ userId: "big", asOfMs })).ok) throw new Error("as_of failed");
  });
  const seek = await time(samples, async () => {
    const entry = await store.lastEntryAsOf({ userId: "big", currency: "USD" }, randomInstant());
    if (entry === undefined) throw new Error("no entry");
  });
  const pageAt = (order: "newest_first" | "oldest_first") => async () => {
    const depth = BigInt(Math.floor(Math.random() * (entryCount - 200)) + (order === "newest_first" ? 200 : 0));
    const result = await ledger.listEntries({ userId: "big", order, limit: 100, afterId: firstId + depth });
    if (!result.ok || result.value.entries.length !== 100) throw new Error("short page");
  };
  const pageOldest = await time(samples, pageAt("oldest_first"));
  const pageNewest = await time(samples, pageAt("newest_first"));

  const row = (name: string, figures: Figures) =>
    console.log(`| ${name} | ${figures.p50Ms} | ${figures.p99Ms} | ${figures.maxMs} |`);
  const load = loadavg()[0]?.toFixed(2);
  const filled = (fillMs / 1000).toFixed(1);
  console.log(
    `entries on the account: ${entryCount}; filled in ${filled} s; ${samples} samples each; load average ${load}`,
  );
  console.log("| read | p50 ms | p99 ms | max ms |\n|---|---|---|---|");
  row("GetBalance as_of, random instant (seek + grouped totals)", asOf);
  row("GetBalance as_of, within the last 1,000 entries", asOfRecent);
  row("last entry as of (the seek alone: the balance)", seek);
  row("ListEntries page of 100, oldest first, random depth", pageOldest);
  row("ListEntries page of 100, newest first, random depth", pageNewest);
}

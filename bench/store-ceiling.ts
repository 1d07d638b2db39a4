/**
 * Ceiling (c): the store alone, without RPC. The same mix of writes as the sustained scenario
 * (Load and AdjustBalance over 1,000 accounts, or on one) goes straight to the domain and the
 * SQLite store with group commit, at the same concurrency, in a process of its own.
 *
 * `transfer` instead runs Transfer(1) between two of the 1,000 accounts (each loaded first,
 * outside the timing): the cost of a two-account group mutation against the one-account writes.
 * `batch` runs ApplyBatch with `BATCH_ITEMS` Transfer(1) items along a chain of accounts: one
 * call is ten transfers, twenty entries, in one savepoint.
 *
 * `hold` runs a hold-then-capture per operation on the same loaded accounts: a manual-capture
 * Authorize of 2, then a final Capture of 2 (the store reads the hold under the account's lock):
 * two durable mutations per operation, each latency the pair's.
 *
 * Usage (the bench runner calls it): store-ceiling.ts <full|normal> <spread|hot|transfer|hold|batch> <total> <concurrency>
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
/** Items in one batch of the `batch` run. */
const BATCH_ITEMS = 10;
if (spread === "transfer" || spread === "hold" || spread === "batch") {
  await Promise.all(
    Array.from({ length: ACCOUNT_COUNT }, (_, index) =>
      ledger.load({ userId: accountName(index), amount: 10n ** 9n, currency: "USD", idempotencyKey: null }),
    ),
  );
}
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
    const outcome = await (spread === "hold"
      ? holdThenCapture(input.userId)
      : spread === "batch"
        ? ledger.applyBatch({ items: batchItems(index), idempotencyKey: null })
        : spread === "transfer"
          ? ledger.transfer({
              payerUserId: input.userId,
              payeeUserId: accountName((((index * 7919) % ACCOUNT_COUNT) + 1) % ACCOUNT_COUNT),
              amount: 1n,
              currency: "USD",
              idempotencyKey: null,
            })
          : index % 2 === 0
            ? ledger.load(input)
            : ledger.adjust(input));
    latencies[index] = performance.now() - callStartedAt;
    const code = outcome.ok ? "OK" : outcome.failure.kind.toUpperCase();
    codes[code] = (codes[code] ?? 0) + 1;
  }
}

/** A hold of 2, then its final capture: what a card authorization settled later costs. */
async function holdThenCapture(userId: string) {
  const placed = await ledger.holds.authorize({
    userId,
    amount: 2n,
    currency: "USD",
    idempotencyKey: null,
    expiry: { ttlMs: 3_600_000 },
  });
  if (!placed.ok || placed.value.hold === undefined) return placed;
  const { holdId } = placed.value.hold;
  return ledger.holds.capture({ userId, holdId, amount: 2n, final: true, idempotencyKey: null });
}

/** Transfer(1) along a chain of `BATCH_ITEMS` + 1 accounts, starting at a spread-out account. */
function batchItems(index: number) {
  const first = (index * 7919) % ACCOUNT_COUNT;
  return Array.from({ length: BATCH_ITEMS }, (_, item) => ({
    kind: "transfer" as const,
    payerUserId: accountName((first + item) % ACCOUNT_COUNT),
    payeeUserId: accountName((first + item + 1) % ACCOUNT_COUNT),
    currency: "USD",
    amount: 1n,
  }));
}

await Promise.all(Array.from({ length: concurrency }, () => worker()));
const stats = summarize(latencies, codes, performance.now() - startedAt);
await store.close();
rmSync(dir, { recursive: true, force: true });
if (process.send === undefined) console.log(JSON.stringify(stats));
else process.send(stats);

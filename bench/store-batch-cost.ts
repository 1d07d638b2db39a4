/**
 * `npx tsx bench/store-batch-cost.ts [batches=600] [size=100]`: what one group commit of a hot
 * account costs the SQLite store alone, no RPC. Submits `size` AdjustBalance(+1) mutations on
 * one account in one turn of the event loop (so they share one batch), waits for them, and
 * repeats; prints the median and mean of each batch's whole transaction (BEGIN to the end of
 * COMMIT) and of its COMMIT alone (the fsync), as the store's WriteBatchObserver reports them,
 * after the first third of the batches (warm-up). Durability `full`, a fresh temporary file.
 * Run it pinned (`taskset -c 0`) beside the same file in a checkout of another commit to compare.
 */
import { decideAdjust } from "../src/domain/rules.js";
import { openBenchStore } from "./lib/bench-store.js";

const batches = Number(process.argv[2] ?? 600);
const size = Number(process.argv[3] ?? 100);
const transactionMs: number[] = [];
const commitMs: number[] = [];
const { store, remove } = await openBenchStore("ledger-batch-cost-", {
  writeObserver: {
    batchCommitted: (_mutations, transaction, commit) => {
      transactionMs.push(transaction);
      commitMs.push(commit);
    },
  },
});
const account = { userId: "hot", currency: "USD" };
try {
  for (let batch = 0; batch < batches; batch += 1) {
    await Promise.all(
      Array.from({ length: size }, () => store.mutate({ account, idempotencyKey: null, decide: decideAdjust(1n) })),
    );
  }
} finally {
  await store.close();
  remove();
}

const warmUp = Math.floor(batches / 3);
const summary = (values: number[]): string => {
  const kept = values.slice(warmUp).sort((a, b) => a - b);
  const median = kept[Math.floor(kept.length / 2)] ?? Number.NaN;
  const mean = kept.reduce((sum, value) => sum + value, 0) / kept.length;
  return `median ${median.toFixed(3)} ms, mean ${mean.toFixed(3)} ms`;
};
console.log(
  `${transactionMs.length} batches of ${size}: transaction ${summary(transactionMs)}; COMMIT ${summary(commitMs)}`,
);

/**
 * Write batches as the store commits them: how many mutations share a transaction and one
 * fsync, and how long the transaction and its COMMIT take. Fed through the store port's
 * `WriteBatchObserver`, once per batch, so the cost does not grow with the call rate.
 */
import { Histogram, type Registry } from "prom-client";
import type { WriteBatchObserver } from "../store/store.js";

/** Powers of two up to 4096; LEDGER_WRITE_BATCH_MAX defaults to 1000. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/** From 100 µs (no fsync, LEDGER_DURABILITY=normal) to 2.5 s (a disk in trouble). */
const COMMIT_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export class WriteMetrics implements WriteBatchObserver {
  private readonly batchSize: Histogram;
  private readonly transaction: Histogram;
  private readonly commit: Histogram;

  constructor(registry: Registry) {
    this.batchSize = new Histogram({
      name: "ledger_store_write_batch_size",
      help: "Mutations committed together in one write transaction (group commit).",
      buckets: BATCH_SIZE_BUCKETS,
      registers: [registry],
    });
    this.transaction = new Histogram({
      name: "ledger_store_write_batch_duration_seconds",
      help: "Time a committed write batch held the writer, from BEGIN to the end of COMMIT.",
      buckets: COMMIT_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.commit = new Histogram({
      name: "ledger_store_commit_duration_seconds",
      help: "Time of the COMMIT of a write batch alone: the flush to disk.",
      buckets: COMMIT_BUCKETS_SECONDS,
      registers: [registry],
    });
  }

  batchCommitted(mutations: number, transactionMs: number, commitMs: number): void {
    this.batchSize.observe(mutations);
    this.transaction.observe(transactionMs / 1000);
    this.commit.observe(commitMs / 1000);
  }
}

/**
 * Group commit for PostgreSQL: concurrent mutations share one transaction and one WAL flush.
 *
 * Unlike SQLite, several batches may be in flight at once (up to `inFlightMax`, each on its own
 * connection): the per-user locks order them where they touch the same user, and PostgreSQL
 * flushes their commits together. A batch is cut as soon as a slot is free, so a lone call
 * waits for nobody. Every queue has a bound; past it callers get `StoreOverloadedError`.
 */
import { StoreOverloadedError, StoreUnavailableError } from "../../errors.js";

export interface BatcherOptions {
  readonly batchSizeMax: number;
  readonly queueDepthMax: number;
  /** Most transactions in flight at once. */
  readonly inFlightMax: number;
}

/** Runs one batch; answers one settled outcome per item, in order. */
export type RunBatch<Item, Result> = (items: readonly Item[]) => Promise<readonly Settled<Result>[]>;

export type Settled<Result> =
  { readonly ok: true; readonly value: Result } | { readonly ok: false; readonly error: unknown };

interface Pending<Item, Result> {
  readonly item: Item;
  readonly resolve: (value: Result) => void;
  readonly reject: (error: unknown) => void;
}

export class Batcher<Item, Result> {
  private queue: Pending<Item, Result>[] = [];
  private inFlight = 0;
  private closing = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly run: RunBatch<Item, Result>,
    private readonly options: BatcherOptions,
  ) {}

  get queueDepth(): number {
    return this.queue.length;
  }

  submit(item: Item): Promise<Result> {
    if (this.closing) return Promise.reject(new StoreUnavailableError("the ledger is shutting down"));
    if (this.queue.length >= this.options.queueDepthMax) {
      return Promise.reject(new StoreOverloadedError("too many writes are waiting; retry with backoff"));
    }
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Refuses new work and resolves once everything queued has been committed or failed. */
  drain(): Promise<void> {
    this.closing = true;
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.inFlightMax && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSizeMax);
      this.inFlight += 1;
      void this.runOne(batch);
    }
  }

  private async runOne(batch: readonly Pending<Item, Result>[]): Promise<void> {
    try {
      const settled = await this.run(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => {
        const outcome = settled[index];
        if (outcome === undefined) pending.reject(new Error("batch outcome missing"));
        else if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.error);
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.inFlight -= 1;
      this.pump();
      if (this.inFlight === 0 && this.queue.length === 0) this.idle?.();
    }
  }
}

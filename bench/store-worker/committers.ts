/**
 * Prototype only: the two group committers compared by ./compare.ts. Both cut a batch on the
 * next turn of the event loop and hold at most `BATCH_MAX` mutations per transaction, as the
 * ledger's GroupCommitter does; the in-thread one commits (fsync included) on the event loop,
 * the worker one posts the batch and keeps serving while the worker commits, with at most one
 * batch in flight so that batches stay in order and grow under load.
 */
import { Worker } from "node:worker_threads";
import { openWriter, type BatchWriter } from "./writer-core.js";

const BATCH_MAX = 1000;

interface Pending {
  readonly userId: string;
  readonly amount: bigint;
  readonly resolve: (balanceAfter: bigint) => void;
}

export interface Committer {
  submit(userId: string, amount: bigint): Promise<bigint>;
  close(): Promise<void>;
}

abstract class Batching implements Committer {
  protected queue: Pending[] = [];
  private scheduled = false;

  submit(userId: string, amount: bigint): Promise<bigint> {
    return new Promise((resolve) => {
      this.queue.push({ userId, amount, resolve });
      this.schedule();
    });
  }

  protected schedule(): void {
    if (this.scheduled || !this.ready()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.queue.splice(0, BATCH_MAX);
      if (batch.length > 0) this.commit(batch);
      if (this.queue.length > 0) this.schedule();
    });
  }

  protected ready(): boolean {
    return true;
  }

  protected abstract commit(batch: Pending[]): void;
  abstract close(): Promise<void>;
}

export class InThreadCommitter extends Batching {
  private readonly writer: BatchWriter;

  constructor(filename: string) {
    super();
    this.writer = openWriter(filename);
  }

  protected commit(batch: Pending[]): void {
    const amounts = BigInt64Array.from(batch, (pending) => pending.amount);
    const results = this.writer.apply(
      batch.map((pending) => pending.userId),
      amounts,
    );
    batch.forEach((pending, index) => pending.resolve(results[index] as bigint));
  }

  close(): Promise<void> {
    this.writer.close();
    return Promise.resolve();
  }
}

export class WorkerCommitter extends Batching {
  private readonly worker: Worker;
  private inFlight: Pending[] | undefined;
  private nextId = 0;

  constructor(filename: string) {
    super();
    // The worker's file is TypeScript: it registers tsx's loader in the thread first.
    const tsxApi = import.meta.resolve("tsx/esm/api");
    const entry = new URL("./writer-thread.ts", import.meta.url).href;
    const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
    this.worker = new Worker(bootstrap, { eval: true, workerData: { filename } });
    this.started = new Promise((resolve) => this.worker.once("message", () => resolve()));
    this.worker.once("message", () =>
      this.worker.on("message", ({ results }: { id: number; results: BigInt64Array }) => {
        const batch = this.inFlight ?? [];
        this.inFlight = undefined;
        batch.forEach((pending, index) => pending.resolve(results[index] as bigint));
        this.schedule();
      }),
    );
  }

  /** Resolves once the worker has opened the database: start-up is not part of a run. */
  readonly started: Promise<void>;

  protected override ready(): boolean {
    return this.inFlight === undefined;
  }

  protected commit(batch: Pending[]): void {
    this.inFlight = batch;
    const amounts = BigInt64Array.from(batch, (pending) => pending.amount);
    this.worker.postMessage({ id: this.nextId++, userIds: batch.map((pending) => pending.userId), amounts }, [
      amounts.buffer,
    ]);
  }

  async close(): Promise<void> {
    this.worker.postMessage("close");
    await new Promise((resolve) => this.worker.once("exit", resolve));
  }
}

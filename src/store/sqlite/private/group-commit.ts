/**
 * Group commit: concurrent mutations share one `BEGIN IMMEDIATE` transaction and one fsync.
 *
 * SQLite commits about 1.3k single-row durable transactions a second here but about 30k rows a
 * second in batches of 100, because the fsync, not the row, is the cost. Each mutation still
 * succeeds or fails on its own (a refused debit does not poison its batch-mates), and each
 * promise settles only after its batch has committed. A batch is cut on the first turn of the
 * event loop that brought no new write (at most COALESCE_TURNS_MAX turns late), so a lone call
 * waits for nobody and a burst shares one fsync (bench/README.md).
 *
 * A batch whose works are all *replayable* (pure apart from their writes: the ledger's
 * mutations and policies) first runs them without a savepoint each, with the store's per-batch
 * hooks (one account read and one account write per account per batch, the entries inserted
 * many rows to a statement at the end). A domain refusal writes nothing and returns, so such a
 * run normally ends in COMMIT. Should any work throw (a broken rule, a constraint), nothing is
 * settled yet: the whole transaction is rolled back and the batch run again the safe way, each
 * work in its own savepoint and writing at once, so only the failing work fails, as if the fast
 * run had never happened. Other works (the vendor poller's pages, which rely on their savepoint
 * to undo a lost lease) always run the safe way, and so does any batch that holds one.
 */
import type { Database } from "better-sqlite3";
import { assert } from "../../../assert.js";
import { StoreOutcomeUnknownError, StoreOverloadedError, StoreUnavailableError } from "../../errors.js";
import type { WriteBatchObserver } from "../../store.js";

/** Most extra event-loop turns a batch waits for more writes while they keep coming. */
const COALESCE_TURNS_MAX = 4;

export interface GroupCommitOptions {
  /** Most mutations in one transaction: bounds how long one commit holds the event loop. */
  readonly batchSizeMax: number;
  /** Most mutations waiting for a batch; past it callers get `StoreOverloadedError`. */
  readonly queueDepthMax: number;
  /**
   * Called once when a COMMIT fails in a way that leaves its outcome unknown. From then on this
   * committer refuses every write: the process should stop and let its supervisor restart it,
   * so that recovery, not this process's memory, decides what was committed.
   */
  readonly onFailStop?: (error: unknown) => void;
  /** Told each batch's size and timings once it has committed (metrics). */
  readonly writeObserver?: WriteBatchObserver;
  /** The commit time's clock (milliseconds since 1970); `Date.now` unless a test injects one. */
  readonly clockMs?: () => number;
  /** The store's per-batch state for replayable works (see the header). */
  readonly hooks?: BatchHooks;
}

/** What the store keeps for one attempt at a batch's transaction. */
export interface BatchHooks {
  /**
   * Called after BEGIN of each attempt. `fast` says the works run without savepoints and may
   * defer writes to `finish`; when false they must write at once (they may be rolled back one
   * by one).
   */
  begin(fast: boolean): void;
  /** Called after the last work of an attempt, before COMMIT: writes what the works deferred. */
  finish(): void;
  /** Called once the attempt ended, committed or not: nothing it read may outlive it. */
  end(): void;
}

/** A unit of work that runs inside the batch transaction and returns its caller's answer. */
export type Work<T> = (nowMs: number) => T;

interface Pending {
  readonly work: Work<unknown>;
  /** Pure apart from its writes: may run without a savepoint and run again after a rollback. */
  readonly replayable: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

// Errors after which the transaction cannot be trusted to continue: the whole batch is rolled
// back and failed as unavailable, and the next batch starts afresh.
const FATAL_CODES = [
  "SQLITE_FULL",
  "SQLITE_IOERR",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_NOMEM",
  "SQLITE_READONLY",
  "SQLITE_CORRUPT",
  "SQLITE_CANTOPEN",
  "SQLITE_NOTADB",
];

// Failures of COMMIT itself that prove nothing was written: no space for the WAL frames, or a
// lock. Any other failure at COMMIT (an I/O error at write or fsync above all) may have left a
// complete commit in the WAL, so its outcome is unknown.
const COMMIT_NOT_APPLIED_CODES = ["SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED"];

export function isFatalSqliteError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && FATAL_CODES.some((fatal) => code.startsWith(fatal));
}

function commitProvedNotApplied(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && COMMIT_NOT_APPLIED_CODES.some((known) => code.startsWith(known));
}

/** Thrown out of a batch whose COMMIT failed with an unknown outcome. */
class CommitOutcomeUnknown extends Error {
  constructor(readonly driverError: unknown) {
    super("COMMIT failed with an unknown outcome", { cause: driverError });
  }
}

const OUTCOME_UNKNOWN_MESSAGE =
  "the ledger's disk failed while committing this write, so its outcome is unknown; " +
  "retry with the same idempotency key once the service is back (the replay says whether it was applied)";
const STOPPED_MESSAGE =
  "the ledger stopped taking writes after a failed commit and is restarting; " +
  "retry with the same idempotency key (the replay says whether an earlier attempt was applied)";

export class GroupCommitter {
  private queue: Pending[] = [];
  private flushScheduled = false;
  private closing = false;
  /** Set once a COMMIT failed with an unknown outcome: every write is refused from then on. */
  private failed = false;
  private readonly runBatch: (batch: readonly Pending[], settled: Settled[]) => void;

  constructor(
    db: Database,
    private readonly options: GroupCommitOptions,
  ) {
    // Called inside the batch's transaction, better-sqlite3 turns this into a SAVEPOINT.
    const inSavepoint = db.transaction((work: Work<unknown>, nowMs: number) => work(nowMs));
    // BEGIN and COMMIT are run here rather than by db.transaction(), which rolls back and
    // rethrows whatever fails: a failed COMMIT must be told apart from a failed statement.
    const begin = db.prepare("BEGIN IMMEDIATE");
    const commit = db.prepare("COMMIT");
    const rollback = db.prepare("ROLLBACK");
    const clock = options.clockMs ?? Date.now;
    const hooks = options.hooks;
    const abandon = (): false => {
      if (db.inTransaction) rollback.run();
      return false;
    };
    /**
     * One attempt at the batch's works inside BEGIN IMMEDIATE. Answers false, with the
     * transaction rolled back, when a fast attempt met a non-fatal error; throws a fatal one.
     */
    const attempt = (batch: readonly Pending[], settled: Settled[], fast: boolean): boolean => {
      begin.run();
      try {
        hooks?.begin(fast);
        // Read after BEGIN took the write lock: an account's entries are recorded in time order.
        const nowMs = clock();
        for (const pending of batch) {
          try {
            settled.push({ ok: true, value: fast ? pending.work(nowMs) : inSavepoint(pending.work, nowMs) });
          } catch (error) {
            if (isFatalSqliteError(error)) throw error;
            if (fast) return abandon();
            settled.push({ ok: false, error });
          }
        }
        try {
          hooks?.finish();
        } catch (error) {
          if (isFatalSqliteError(error) || !fast) throw error;
          return abandon();
        }
        return true;
      } catch (error) {
        if (db.inTransaction) rollback.run();
        throw error;
      } finally {
        hooks?.end();
      }
    };
    this.runBatch = (batch, settled) => {
      assert(!db.inTransaction, "a batch starts with no transaction open");
      const startedAt = performance.now();
      const fast = batch.every((pending) => pending.replayable);
      if (!(fast && attempt(batch, settled, true))) {
        // Nothing of the fast attempt was settled or committed: run the batch the safe way.
        settled.length = 0;
        attempt(batch, settled, false);
      }
      assert(settled.length === batch.length, "every mutation of a batch has an outcome");
      const commitStartedAt = performance.now();
      try {
        commit.run();
      } catch (error) {
        // SQLite may have rolled back already; if not, nothing of this batch may stay visible
        // to the reads that share this connection.
        if (db.inTransaction) {
          try {
            rollback.run();
          } catch {
            // The process is about to stop; recovery will settle the file.
          }
        }
        if (commitProvedNotApplied(error)) throw error;
        throw new CommitOutcomeUnknown(error);
      }
      const committedAt = performance.now();
      try {
        options.writeObserver?.batchCommitted(batch.length, committedAt - startedAt, committedAt - commitStartedAt);
      } catch {
        // The batch is durable: a failing metrics observer must not turn it into a failed write.
      }
    };
  }

  /**
   * Queues `work` for the next batch; resolves with its result once the batch is durable.
   * `replayable` work must be pure apart from its writes (see the header).
   */
  submit<T>(work: Work<T>, replayable = false): Promise<T> {
    if (this.failed) return Promise.reject(new StoreUnavailableError(STOPPED_MESSAGE));
    if (this.closing) return Promise.reject(new StoreUnavailableError("the ledger is shutting down"));
    if (this.queue.length >= this.options.queueDepthMax) {
      return Promise.reject(new StoreOverloadedError("too many writes are waiting; retry with backoff"));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, replayable, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleFlush();
    });
  }

  /** How many mutations wait for a batch. */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** Refuses new work and commits everything already queued. */
  drain(): void {
    this.closing = true;
    while (this.queue.length > 0 && !this.failed) this.flushOneBatch();
    this.rejectQueued();
  }

  private rejectQueued(): void {
    const queued = this.queue;
    this.queue = [];
    for (const pending of queued) pending.reject(new StoreUnavailableError(STOPPED_MESSAGE));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.flushOnQuietTurn(this.queue.length, 0);
  }

  /**
   * Commits once a turn of the event loop brought no new write, or after COALESCE_TURNS_MAX
   * turns, or when a full batch waits. Under load the requests of one round arrive over several
   * turns (one socket read each), and cutting a batch on the first turn made several small
   * batches, each paying an fsync; a lone call still commits on the next turn.
   */
  private flushOnQuietTurn(seenDepth: number, turns: number): void {
    setImmediate(() => {
      const depth = this.queue.length;
      const growing = depth > seenDepth && depth < this.options.batchSizeMax;
      if (growing && turns < COALESCE_TURNS_MAX && !this.closing) {
        this.flushOnQuietTurn(depth, turns + 1);
        return;
      }
      this.flushScheduled = false;
      this.flushOneBatch();
      // One batch per turn, so that responses go out and new requests come in between batches.
      if (this.queue.length > 0) this.scheduleFlush();
    });
  }

  private flushOneBatch(): void {
    if (this.failed) {
      this.rejectQueued();
      return;
    }
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const settled: Settled[] = [];
    try {
      this.runBatch(batch, settled);
    } catch (error) {
      if (error instanceof CommitOutcomeUnknown) {
        this.failed = true;
        const unknown = new StoreOutcomeUnknownError(OUTCOME_UNKNOWN_MESSAGE, { cause: error.driverError });
        for (const pending of batch) pending.reject(unknown);
        this.rejectQueued();
        this.options.onFailStop?.(error.driverError);
        return;
      }
      const unavailable = new StoreUnavailableError(describeCommitFailure(error), { cause: error });
      for (const pending of batch) pending.reject(unavailable);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = settled[index];
      if (outcome?.ok === true) pending.resolve(outcome.value);
      else pending.reject(outcome?.error ?? new Error("batch outcome missing"));
    });
  }

  private takeBatch(): Pending[] {
    if (this.queue.length <= this.options.batchSizeMax) {
      const batch = this.queue;
      this.queue = [];
      return batch;
    }
    return this.queue.splice(0, this.options.batchSizeMax);
  }
}

/** A message for callers that names the condition but never carries SQL or driver text. */
function describeCommitFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (code.startsWith("SQLITE_FULL")) return "the ledger's disk is full; the write was not applied";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return "the ledger's database is busy; the write was not applied";
    }
    if (code.startsWith("SQLITE_IOERR")) return "the ledger's disk failed to write; the write was not applied";
  }
  return "the ledger could not commit; the write was not applied";
}

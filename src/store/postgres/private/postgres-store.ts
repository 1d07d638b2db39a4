/**
 * The PostgreSQL store: a connection pool, mutations batched into transactions by `Batcher`,
 * and the domain's `decide` functions run in JavaScript inside each transaction, against the
 * state read under the users' locks. No ledger rule is written in SQL.
 *
 * One batch's transaction: lock its users (sorted), read their accounts and the idempotency
 * entries the batch names, decide every mutation in order, append the entries and upsert the
 * accounts, COMMIT. Callers hear back only after COMMIT has returned, so every OK is durable.
 */
import type pg from "pg";
import { StoreUnavailableError } from "../../errors.js";
import type { IngestStore } from "../../ingest-port.js";
import { migrateToLatest } from "../../migrate.js";
import { toAccount, toEntry, toPayout, toTotal, type AccountRow, type EntryRow, type TotalRow } from "../../rows.js";
import type {
  Account,
  AccountState,
  Entry,
  EntryQuery,
  EntryScan,
  EntryTotal,
  AccountKey,
  LedgerStore,
  Mutation,
  MutationResult,
  PayoutQuery,
  PayoutRow,
} from "../../store.js";
import { Batcher, type Settled } from "./batcher.js";
import { unavailable } from "./errors.js";
import { PostgresIngestStore } from "./ingest-store.js";
import { createPool, type PostgresStoreOptions } from "./pool.js";
import { inTransaction } from "./transaction.js";
import { ACCOUNT_COLUMNS, accountKeyOf, appendEntries, lockUsers, readAccounts, type PendingEntry } from "./writes.js";

type AnyMutation = Mutation<string>;
type AnyResult = MutationResult<string>;

const INT64_MAX = 2n ** 63n - 1n;

/** Most batch transactions one process keeps in flight; each holds one pooled connection. */
const BATCHES_IN_FLIGHT_MAX = 4;

export class PostgresStore implements LedgerStore {
  readonly ingest: IngestStore;
  private readonly writer: Batcher<AnyMutation, AnyResult>;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresStoreOptions,
  ) {
    this.writer = new Batcher((batch) => this.runBatch(batch), {
      batchSizeMax: options.batchSizeMax,
      queueDepthMax: options.queueDepthMax,
      // Leave a connection for reads and the poller.
      inFlightMax: Math.max(1, Math.min(BATCHES_IN_FLIGHT_MAX, options.poolMax - 1)),
    });
    this.ingest = new PostgresIngestStore(pool, options.writeObserver);
  }

  /** Migrates the database to the newest schema (under knex's lock), then opens the pool. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = createPool(options);
    try {
      const connection = await pool.connect().catch((error: unknown) => {
        throw unavailable(error, "read");
      });
      connection.release();
      await migrateToLatest({
        dialect: "postgres",
        connection: { connectionString: options.url, ssl: pool.options.ssl ?? false },
      });
      return new PostgresStore(pool, options);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  get writeQueueDepth(): number {
    return this.writer.queueDepth;
  }

  mutate<Reason extends string>(mutation: Mutation<Reason>): Promise<MutationResult<Reason>> {
    return this.writer.submit(mutation) as Promise<MutationResult<Reason>>;
  }

  getAccounts(userId: string, currency?: string): Promise<Account[]> {
    return this.read(async () => {
      const result =
        currency === undefined
          ? await this.pool.query<AccountRow>(
              `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY currency`,
              [userId],
            )
          : await this.pool.query<AccountRow>(
              `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1 AND currency = $2`,
              [userId, currency],
            );
      return result.rows.map(toAccount);
    });
  }

  listOutstandingPayouts(query: PayoutQuery): Promise<PayoutRow[]> {
    return this.read(async () => {
      const result = await this.pool.query<AccountRow>(
        `
        SELECT ${ACCOUNT_COLUMNS} FROM accounts
        WHERE payout_requested > paid_out AND (user_id, currency) > ($1, $2)
          AND ($3::text IS NULL OR currency = $3) AND ($4::text IS NULL OR user_id = $4)
        ORDER BY user_id, currency LIMIT $5`,
        [
          query.after?.userId ?? "",
          query.after?.currency ?? "",
          query.currency ?? null,
          query.userId ?? null,
          query.limit,
        ],
      );
      return result.rows.map(toPayout);
    });
  }

  listEntries(query: EntryQuery): Promise<Entry[]> {
    const oldestFirst = query.order === "oldest_first";
    return this.read(async () => {
      const result = await this.pool.query<EntryRow>(
        `
        SELECT * FROM entries
        WHERE user_id = $1 AND id ${oldestFirst ? ">" : "<"} $2
          AND ($3::text IS NULL OR currency = $3)
          AND created_at_ms >= $4 AND created_at_ms < $5
          AND ($6::text[] IS NULL OR kind = ANY($6::text[]))
        ORDER BY id ${oldestFirst ? "ASC" : "DESC"} LIMIT $7`,
        [
          query.userId,
          String(query.afterId ?? (oldestFirst ? 0n : INT64_MAX)),
          query.currency ?? null,
          query.fromMs ?? Number.MIN_SAFE_INTEGER,
          query.toMs ?? Number.MAX_SAFE_INTEGER,
          query.kinds === undefined ? null : [...query.kinds],
          query.limit,
        ],
      );
      return result.rows.map(toEntry);
    });
  }

  lastEntryAsOf(key: AccountKey, asOfMs: number): Promise<Entry | undefined> {
    return this.read(async () => {
      const result = await this.pool.query<EntryRow>(
        `
        SELECT * FROM entries WHERE user_id = $1 AND currency = $2 AND created_at_ms <= $3
        ORDER BY created_at_ms DESC, id DESC LIMIT 1`,
        [key.userId, key.currency, asOfMs],
      );
      const row = result.rows[0];
      return row === undefined ? undefined : toEntry(row);
    });
  }

  entryTotals(key: AccountKey, afterId: bigint, throughId: bigint): Promise<EntryTotal[]> {
    return this.read(async () => {
      const result = await this.pool.query<TotalRow>(
        `
        SELECT kind, status, amount > 0 AS positive, SUM(amount) AS amount, SUM(delta) AS delta, COUNT(*) AS count
        FROM entries WHERE user_id = $1 AND currency = $2 AND id > $3 AND id <= $4
        GROUP BY kind, status, amount > 0`,
        [key.userId, key.currency, String(afterId), String(throughId)],
      );
      return result.rows.map(toTotal);
    });
  }

  scanEntries(scan: EntryScan): Promise<Entry[]> {
    return this.read(async () => {
      const result = await this.pool.query<EntryRow>(
        `
        SELECT * FROM entries
        WHERE id > $1 AND ($2::text IS NULL OR user_id = $2)
          AND created_at_ms >= $3 AND created_at_ms < $4
        ORDER BY id LIMIT $5`,
        [
          String(scan.afterId),
          scan.userId ?? null,
          scan.fromMs ?? Number.MIN_SAFE_INTEGER,
          scan.toMs ?? Number.MAX_SAFE_INTEGER,
          scan.limit,
        ],
      );
      return result.rows.map(toEntry);
    });
  }

  getEntry(id: bigint): Promise<Entry | undefined> {
    return this.read(async () => {
      const result = await this.pool.query<EntryRow>("SELECT * FROM entries WHERE id = $1", [String(id)]);
      const row = result.rows[0];
      return row === undefined ? undefined : toEntry(row);
    });
  }

  withSnapshot<T>(read: (entries: Iterable<Entry>, accounts: Iterable<Account>) => T): Promise<T> {
    // One REPEATABLE READ transaction: entries and accounts as of one instant. The rows are held
    // in memory for the audit; a ledger past a few million entries would want a cursor here.
    return this.read(() =>
      inTransaction(
        this.pool,
        async (client) => {
          const entries = await client.query<EntryRow>("SELECT * FROM entries ORDER BY id");
          const accounts = await client.query<AccountRow>(
            `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY user_id, currency`,
          );
          return read(entries.rows.map(toEntry), accounts.rows.map(toAccount));
        },
        { isolation: "repeatable read", readOnly: true },
      ),
    );
  }

  ping(): Promise<void> {
    return this.read(async () => {
      await this.pool.query("SELECT 1");
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.drain();
    await this.pool.end();
  }

  private async read<T>(query: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError("the ledger is shutting down");
    try {
      return await query();
    } catch (error) {
      throw unavailable(error, "read");
    }
  }

  private runBatch(batch: readonly AnyMutation[]): Promise<readonly Settled<AnyResult>[]> {
    return inTransaction(
      this.pool,
      async (client) => {
        const users = await lockUsers(
          client,
          batch.map((mutation) => mutation.account.userId),
        );
        // The time is read under the users' locks, so that within an account recording times
        // follow entry ids (a balance as of an instant is then one index seek).
        const nowMs = Date.now();
        const states = await readAccounts(client, users);
        const keyed = await this.readKeyedEntries(client, batch);
        const pending: PendingEntry[] = [];
        const decided = batch.map((mutation) => decideOne(mutation, nowMs, states, keyed, pending));
        await appendEntries(client, pending);
        return decided.map((outcome) => settle(outcome));
      },
      {
        onCommitted: (transactionMs, commitMs) =>
          this.options.writeObserver?.batchCommitted(batch.length, transactionMs, commitMs),
      },
    );
  }

  /** The entries already recorded under the idempotency keys this batch names. */
  private async readKeyedEntries(
    client: pg.PoolClient,
    batch: readonly AnyMutation[],
  ): Promise<Map<string, Entry | PendingEntry>> {
    const keyed = new Map<string, Entry | PendingEntry>();
    const named = batch.filter((mutation) => mutation.idempotencyKey !== null);
    if (named.length === 0) return keyed;
    const result = await client.query<EntryRow>(
      "SELECT * FROM entries WHERE user_id = ANY($1::text[]) AND idempotency_key = ANY($2::text[])",
      [
        [...new Set(named.map((mutation) => mutation.account.userId))],
        [...new Set(named.map((mutation) => mutation.idempotencyKey))],
      ],
    );
    for (const row of result.rows) keyed.set(accountKeyOf(row.user_id, row.idempotency_key ?? ""), toEntry(row));
    return keyed;
  }
}

/** A mutation's outcome before ids are known: a pending entry is completed by `appendEntries`. */
type Decided =
  | { readonly type: "applied"; readonly pending: PendingEntry; readonly before: AccountState | undefined }
  | { readonly type: "existing"; readonly entry: Entry | PendingEntry }
  | { readonly type: "rejected"; readonly reason: string; readonly current: AccountState | undefined }
  | { readonly type: "failed"; readonly error: unknown };

function decideOne(
  mutation: AnyMutation,
  nowMs: number,
  states: Map<string, AccountState | undefined>,
  keyed: Map<string, Entry | PendingEntry>,
  pending: PendingEntry[],
): Decided {
  const { userId, currency } = mutation.account;
  const idempotency = mutation.idempotencyKey === null ? undefined : accountKeyOf(userId, mutation.idempotencyKey);
  if (idempotency !== undefined) {
    const existing = keyed.get(idempotency);
    if (existing !== undefined) return { type: "existing", entry: existing };
  }
  const accountKey = accountKeyOf(userId, currency);
  const before = states.get(accountKey);
  try {
    const verdict = mutation.decide(before, nowMs);
    if (verdict.type === "reject") return { type: "rejected", reason: verdict.reason, current: before };
    const item: PendingEntry = {
      key: mutation.account,
      draft: verdict.entry,
      next: verdict.next,
      meta: { idempotencyKey: mutation.idempotencyKey, externalId: null, occurredAtMs: nowMs, createdAtMs: nowMs },
    };
    pending.push(item);
    states.set(accountKey, verdict.next);
    if (idempotency !== undefined) keyed.set(idempotency, item);
    return { type: "applied", pending: item, before };
  } catch (error) {
    // A rule that throws is a bug in that one mutation: its batch-mates still commit.
    return { type: "failed", error };
  }
}

function entryOf(value: Entry | PendingEntry): Entry {
  if ("id" in value) return value;
  if (value.entry === undefined) throw new Error("a pending entry was not appended");
  return value.entry;
}

function settle(outcome: Decided): Settled<AnyResult> {
  switch (outcome.type) {
    case "applied":
      return {
        ok: true,
        value: {
          type: "applied",
          entry: entryOf(outcome.pending),
          before: outcome.before,
          after: outcome.pending.next,
        },
      };
    case "existing":
      return { ok: true, value: { type: "existing", entry: entryOf(outcome.entry) } };
    case "rejected":
      return { ok: true, value: { type: "rejected", reason: outcome.reason, current: outcome.current } };
    case "failed":
      return { ok: false, error: outcome.error };
  }
}

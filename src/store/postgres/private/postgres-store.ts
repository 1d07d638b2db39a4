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
import { StoreOutcomeUnknownError, StoreUnavailableError } from "../../errors.js";
import type { IngestStore } from "../../ingest-port.js";
import { migrateToLatest } from "../../migrate.js";
import {
  toAccount,
  toEntry,
  toPayout,
  toPolicyRow,
  toTotal,
  toHold,
  type HoldRow,
  type AccountRow,
  type EntryRow,
  type PolicyRow,
  type TotalRow,
} from "../../rows.js";
import type {
  Account,
  AccountKey,
  AccountPolicy,
  AccountPolicyRow,
  AccountState,
  Entry,
  EntryQuery,
  EntryScan,
  EntryTotal,
  GroupMutation,
  GroupResult,
  Hold,
  LedgerStore,
  Mutation,
  MutationResult,
  PayoutQuery,
  PayoutRow,
} from "../../store.js";
import { Batcher, type Settled } from "./batcher.js";
import { unavailable } from "./errors.js";
import {
  decideGroup,
  insertBatches,
  readGroups,
  settleGroup,
  type AnyGroup,
  type GroupDecided,
  type StoredGroups,
} from "./group-decide.js";
import { PostgresIngestStore } from "./ingest-store.js";
import { readHolds, writeHolds } from "./hold-writes.js";
import { createPool, type PostgresStoreOptions } from "./pool.js";
import { inTransaction } from "./transaction.js";
import { PolledEntryFeed, STREAM_POLL_INTERVAL_MS_DEFAULT } from "../../entry-feed.js";
import { PostgresStreamHorizon } from "./stream-horizon.js";
import {
  ACCOUNT_COLUMNS,
  accountKeyOf,
  appendEntries,
  lockUsers,
  policyOf,
  readAccounts,
  readPolicies,
  type PendingEntry,
} from "./writes.js";

type AnyMutation = Mutation<string>;
type AnyResult = MutationResult<string>;
/** One item of a batch: a single-account mutation or a group; the batch locks all their users. */
type AnyItem = AnyMutation | AnyGroup;
type AnyItemResult = AnyResult | GroupResult<string>;

const isGroup = (item: AnyItem): item is AnyGroup => "accounts" in item;
const usersOf = (item: AnyItem): string[] =>
  isGroup(item) ? item.accounts.map((account) => account.userId) : [item.account.userId];
const keyOf = (item: AnyItem): { userId: string; key: string } | null =>
  isGroup(item)
    ? item.idempotency
    : item.idempotencyKey === null
      ? null
      : { userId: item.account.userId, key: item.idempotencyKey };

const INT64_MAX = 2n ** 63n - 1n;

/**
 * The least time between two horizon probes of one process while streams wait, however many
 * commits nudge it: each probe takes (and rolls back) a transaction id, so this caps that at 100
 * a second (8.6 million a day, against autovacuum's 200 million before a freeze), for at most
 * 10 ms more stream latency.
 */
const HORIZON_PROBE_SPACING_MS = 10;

/** Most batch transactions one process keeps in flight; each holds one pooled connection. */
const BATCHES_IN_FLIGHT_MAX = 4;

export class PostgresStore implements LedgerStore {
  readonly ingest: IngestStore;
  readonly feed: PolledEntryFeed;
  private readonly writer: Batcher<AnyItem, AnyItemResult>;
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
    const horizon = new PostgresStreamHorizon(pool);
    this.feed = new PolledEntryFeed(
      { horizon: () => this.read(() => horizon.probe()), latestId: () => this.read(() => horizon.latestId()) },
      options.streamPollIntervalMs ?? STREAM_POLL_INTERVAL_MS_DEFAULT,
      HORIZON_PROBE_SPACING_MS,
    );
    // A local commit wakes this process's streams at once; the feed's poll sees other processes'.
    const feed = this.feed;
    const observer = options.writeObserver;
    this.ingest = new PostgresIngestStore(pool, {
      batchCommitted: (mutations, transactionMs, commitMs) => {
        feed.nudge();
        observer?.batchCommitted(mutations, transactionMs, commitMs);
      },
    });
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

  mutateGroup<Reason extends string>(mutation: GroupMutation<Reason>): Promise<GroupResult<Reason>> {
    return this.writer.submit(mutation) as Promise<GroupResult<Reason>>;
  }

  setPolicy(account: AccountKey, policy: AccountPolicy): Promise<AccountPolicyRow> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the ledger is shutting down"));
    // Under the user's lock, like every write of the account: a mutation is decided under the
    // policy before this or after it, never a mix.
    return inTransaction(this.pool, async (client) => {
      await lockUsers(client, [account.userId]);
      const result = await client.query<PolicyRow>(
        `INSERT INTO account_policies (user_id, currency, overdraft_limit, state, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, currency) DO UPDATE SET overdraft_limit = excluded.overdraft_limit,
           state = excluded.state, updated_at_ms = excluded.updated_at_ms
         RETURNING *`,
        [account.userId, account.currency, policy.overdraftLimit, policy.state, this.nowMs()],
      );
      const row = result.rows[0];
      if (row === undefined) throw new Error("the policy upsert returned no row");
      return toPolicyRow(row);
    }).catch((error: unknown) => {
      throw error instanceof StoreOutcomeUnknownError ? error : unavailable(error, "before-commit");
    });
  }

  getPolicies(userId: string, currency?: string): Promise<AccountPolicyRow[]> {
    return this.read(async () => {
      const result = await this.pool.query<PolicyRow>(
        "SELECT * FROM account_policies WHERE user_id = $1 AND ($2::text IS NULL OR currency = $2) ORDER BY currency",
        [userId, currency ?? null],
      );
      return result.rows.map(toPolicyRow);
    });
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
        WHERE id > $1 AND id <= $6 AND ($2::text IS NULL OR user_id = $2)
          AND ($7::text IS NULL OR currency = $7)
          AND created_at_ms >= $3 AND created_at_ms < $4
        ORDER BY id LIMIT $5`,
        [
          String(scan.afterId),
          scan.userId ?? null,
          scan.fromMs ?? Number.MIN_SAFE_INTEGER,
          scan.toMs ?? Number.MAX_SAFE_INTEGER,
          scan.limit,
          String(scan.throughId ?? INT64_MAX),
          scan.currency ?? null,
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

  getHold(holdId: bigint): Promise<Hold | undefined> {
    return this.read(async () => {
      const result = await this.pool.query<HoldRow>("SELECT * FROM holds WHERE hold_id = $1", [String(holdId)]);
      const row = result.rows[0];
      return row === undefined ? undefined : toHold(row);
    });
  }

  activeHoldsByExpiry(limit: number): Promise<Hold[]> {
    return this.read(async () => {
      const result = await this.pool.query<HoldRow>(
        "SELECT * FROM holds WHERE status = 'active' ORDER BY expires_at_ms, hold_id LIMIT $1",
        [limit],
      );
      return result.rows.map(toHold);
    });
  }

  withSnapshot<T>(
    read: (entries: Iterable<Entry>, accounts: Iterable<Account>, batches: ReadonlyMap<bigint, bigint>) => T,
  ): Promise<T> {
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
          const batches = await client.query<{ group_id: bigint; leg_count: bigint }>(
            "SELECT group_id, leg_count FROM entry_batches",
          );
          const legCounts = new Map(batches.rows.map((row) => [row.group_id, row.leg_count]));
          return read(entries.rows.map(toEntry), accounts.rows.map(toAccount), legCounts);
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
    this.feed.close();
    await this.writer.drain();
    await this.pool.end();
  }

  private nowMs(): number {
    return this.options.clockMs?.() ?? Date.now();
  }

  private async read<T>(query: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError("the ledger is shutting down");
    try {
      return await query();
    } catch (error) {
      throw unavailable(error, "read");
    }
  }

  private runBatch(batch: readonly AnyItem[]): Promise<readonly Settled<AnyItemResult>[]> {
    return inTransaction(
      this.pool,
      async (client) => {
        const users = await lockUsers(client, batch.flatMap(usersOf));
        // The time is read under the users' locks, so that within an account recording times
        // follow entry ids (a balance as of an instant is then one index seek).
        const nowMs = this.nowMs();
        const states = await readAccounts(client, users);
        const policies = await readPolicies(client, users);
        const holds = await readHolds(
          client,
          batch.flatMap((item) =>
            isGroup(item) ? (item.holdIds ?? []) : item.holdId === undefined ? [] : [item.holdId],
          ),
        );
        const groupIds = new Map<Entry, bigint>();
        const keyed = await this.readKeyedEntries(client, batch, groupIds);
        const groups = await readGroups(client, keyed.values(), groupIds);
        const pending: PendingEntry[] = [];
        const decided = batch.map((item) =>
          isGroup(item)
            ? decideGroupSafely(item, nowMs, states, keyed, pending, policies, holds)
            : decideOne(item, nowMs, states, keyed, pending, policies, holds),
        );
        await appendEntries(client, pending);
        await writeHolds(client, pending);
        await insertBatches(client, decided);
        return decided.map((outcome) => settleItem(outcome, groupIds, groups));
      },
      {
        onCommitted: (transactionMs, commitMs) => {
          this.feed.nudge();
          this.options.writeObserver?.batchCommitted(batch.length, transactionMs, commitMs);
        },
      },
    );
  }

  /**
   * The entries already recorded under the idempotency keys this batch names; `groupIds` learns
   * the group of each one that is a group's first leg.
   */
  private async readKeyedEntries(
    client: pg.PoolClient,
    batch: readonly AnyItem[],
    groupIds: Map<Entry, bigint>,
  ): Promise<Map<string, Entry | PendingEntry>> {
    const keyed = new Map<string, Entry | PendingEntry>();
    const named = batch.flatMap((item) => {
      const key = keyOf(item);
      return key === null ? [] : [key];
    });
    if (named.length === 0) return keyed;
    const result = await client.query<EntryRow>(
      "SELECT * FROM entries WHERE user_id = ANY($1::text[]) AND idempotency_key = ANY($2::text[])",
      [[...new Set(named.map((key) => key.userId))], [...new Set(named.map((key) => key.key))]],
    );
    for (const row of result.rows) {
      const entry = toEntry(row);
      keyed.set(accountKeyOf(row.user_id, row.idempotency_key ?? ""), entry);
      if (row.group_id !== null && row.group_id !== undefined) groupIds.set(entry, row.group_id);
    }
    return keyed;
  }
}

/** A group's rule that throws is a bug in that one group: its batch-mates still commit. */
function decideGroupSafely(
  group: AnyGroup,
  nowMs: number,
  states: Map<string, AccountState | undefined>,
  keyed: Map<string, Entry | PendingEntry>,
  pending: PendingEntry[],
  policies: ReadonlyMap<string, AccountPolicy>,
  holds: Map<bigint, Hold>,
): GroupDecided | Decided {
  try {
    return decideGroup(group, nowMs, states, keyed, pending, policies, holds);
  } catch (error) {
    return { type: "failed", error };
  }
}

function settleItem(
  outcome: GroupDecided | Decided,
  groupIds: ReadonlyMap<Entry, bigint>,
  groups: StoredGroups,
): Settled<AnyItemResult> {
  switch (outcome.type) {
    case "group_applied":
    case "group_existing":
    case "group_rejected":
      return { ok: true, value: settleGroup(outcome, groupIds, groups) };
    default:
      return settle(outcome);
  }
}

/** A mutation's outcome before ids are known: a pending entry is completed by `appendEntries`. */
type Decided =
  | { readonly type: "applied"; readonly pending: PendingEntry; readonly before: AccountState | undefined }
  | { readonly type: "existing"; readonly entry: Entry | PendingEntry }
  | {
      readonly type: "rejected";
      readonly reason: string;
      readonly current: AccountState | undefined;
      readonly policy: AccountPolicy;
      readonly hold: Hold | undefined;
    }
  | { readonly type: "failed"; readonly error: unknown };

function decideOne(
  mutation: AnyMutation,
  nowMs: number,
  states: Map<string, AccountState | undefined>,
  keyed: Map<string, Entry | PendingEntry>,
  pending: PendingEntry[],
  policies: ReadonlyMap<string, AccountPolicy>,
  holds: Map<bigint, Hold>,
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
    const policy = policyOf(policies, mutation.account);
    const hold = mutation.holdId === undefined ? undefined : holds.get(mutation.holdId);
    const verdict = mutation.decide(before, nowMs, policy, hold);
    if (verdict.type === "reject") return { type: "rejected", reason: verdict.reason, current: before, policy, hold };
    const holdId = mutation.holdId ?? null;
    const item: PendingEntry = {
      key: mutation.account,
      draft: verdict.entry,
      next: verdict.next,
      meta: { idempotencyKey: mutation.idempotencyKey, externalId: null, occurredAtMs: nowMs, createdAtMs: nowMs },
      ...(verdict.hold === undefined ? {} : { hold: { holdId, state: verdict.hold } }),
    };
    pending.push(item);
    // A later mutation of this batch on the same hold decides on this one's result.
    if (verdict.hold !== undefined && hold !== undefined) holds.set(hold.holdId, { ...hold, ...verdict.hold });
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
      return {
        ok: true,
        value: {
          type: "rejected",
          reason: outcome.reason,
          current: outcome.current,
          policy: outcome.policy,
          ...(outcome.hold === undefined ? {} : { hold: outcome.hold }),
        },
      };
    case "failed":
      return { ok: false, error: outcome.error };
  }
}

/**
 * The SQLite store: one better-sqlite3 connection in WAL mode that does every write, batched by
 * group commit, with prepared statements. Reads run on the same connection between batches, so
 * they see exactly what has been committed.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database, { type Database as Connection, type Statement } from "better-sqlite3";
import { assert } from "../../../assert.js";
import { StoreUnavailableError } from "../../errors.js";
import type { IngestStore } from "../../ingest-port.js";
import { DEFAULT_POLICY } from "../../store.js";
import type {
  Account,
  AccountKey,
  AccountPolicy,
  AccountPolicyRow,
  AccountState,
  Entry,
  EntryDraft,
  EntryQuery,
  EntryScan,
  EntryTotal,
  GroupLeg,
  GroupMutation,
  Hold,
  GroupResult,
  LedgerStore,
  Mutation,
  MutationResult,
  PayoutQuery,
  PayoutRow,
  WriteBatchObserver,
} from "../../store.js";
import { assertGroupLegs } from "../../group-legs.js";
import { BatchAccounts } from "./batch-accounts.js";
import { BatchEntries, ENTRY_VALUE_COLUMNS, insertEntriesSql, type EntryValues } from "./batch-entries.js";
import { GroupCommitter } from "./group-commit.js";
import { migrateToLatest } from "../../migrate.js";
import {
  toAccount,
  toEntry,
  toPayout,
  toPolicyRow,
  toTotal,
  toHold,
  entryHoldFields,
  type AccountRow,
  type EntryRow,
  type HoldRow,
  type PolicyRow,
  type TotalRow,
} from "../../rows.js";
import { SqliteIngestStore } from "./vendor-store.js";
import { PolledEntryFeed, STREAM_POLL_INTERVAL_MS_DEFAULT } from "../../entry-feed.js";

/**
 * `full` fsyncs the WAL at every commit: an acknowledged write survives power loss.
 * `normal` fsyncs only at checkpoints: an acknowledged write survives a crash of the process but
 * the last commits may be lost if the machine itself loses power.
 */
export type Durability = "full" | "normal";

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created if missing. */
  readonly filename: string;
  readonly durability: Durability;
  /** Most mutations in one group commit. */
  readonly batchSizeMax: number;
  /** Most mutations waiting for a group commit before callers are turned away. */
  readonly queueDepthMax: number;
  /** How long a write waits for a lock held by another process (a CLI), in milliseconds. */
  readonly busyTimeoutMs: number;
  /** Called once a COMMIT fails with an unknown outcome; the store then refuses every write. */
  readonly onFailStop?: (error: unknown) => void;
  /** Told each write batch's size and timings (metrics). */
  readonly writeObserver?: WriteBatchObserver;
  /**
   * How often the live stream reads the newest entry id while a stream waits, in milliseconds:
   * this process's own commits wake streams at once; the poll sees writes by other processes.
   */
  readonly streamPollIntervalMs?: number;
  /** The commit time's clock, in milliseconds since 1970; `Date.now` unless a test injects one. */
  readonly clockMs?: () => number;
}

/** What a batch run without savepoints defers to its end (see batch-accounts.ts, batch-entries.ts). */
interface FastBatch {
  readonly accounts: BatchAccounts;
  readonly entries: BatchEntries;
}

export class SqliteStore implements LedgerStore {
  private readonly writer: GroupCommitter;
  private readonly statements: ReturnType<typeof prepare>;
  private closed = false;
  /**
   * The accounts and entries of the batch being run without savepoints; undefined
   * between batches and while a batch runs the safe way, when every account and entry is
   * read and written at once.
   */
  private batch: FastBatch | undefined;
  /** Multi-row entry INSERTs by row count, prepared on first use. */
  private readonly insertEntryRows = new Map<number, Statement>();
  readonly ingest: IngestStore;
  readonly feed: PolledEntryFeed;

  private constructor(
    private readonly db: Connection,
    options: SqliteStoreOptions,
  ) {
    this.statements = prepare(db);
    // One writer commits in id order (AUTOINCREMENT inside the write transaction), and reads on
    // this connection run between batches, so the newest committed id is a safe horizon. The
    // group commit tells the feed only after COMMIT has returned, that is once the batch is
    // durable: no stream sends an entry before its write is acknowledged-durable.
    const newestId = (): Promise<bigint> => this.read(() => this.newestEntryId());
    this.feed = new PolledEntryFeed(
      { horizon: newestId, latestId: newestId },
      options.streamPollIntervalMs ?? STREAM_POLL_INTERVAL_MS_DEFAULT,
    );
    const writeObserver = options.writeObserver;
    const batchRows = {
      readAccount: (key: AccountKey) => this.readAccountState(key),
      readPolicy: (key: AccountKey) => this.readPolicy(key),
      writeAccount: (key: AccountKey, state: AccountState) => this.writeAccount(key, state),
    };
    this.writer = new GroupCommitter(db, {
      ...options,
      hooks: {
        begin: (fast) => {
          this.batch = fast
            ? {
                accounts: new BatchAccounts(batchRows),
                entries: new BatchEntries(
                  (rows) => this.insertEntriesOf(rows),
                  () => this.newestEntryId(),
                ),
              }
            : undefined;
        },
        finish: () => {
          this.batch?.entries.flush();
          this.batch?.accounts.flush();
        },
        end: () => {
          this.batch = undefined;
        },
      },
      writeObserver: {
        batchCommitted: (mutations, transactionMs, commitMs) => {
          this.feed.nudge();
          writeObserver?.batchCommitted(mutations, transactionMs, commitMs);
        },
      },
    });
    this.ingest = new SqliteIngestStore(db, this.writer, (key, draft, next, meta) => {
      // The poller reads accounts straight from the table, so its works never share a batch
      // with cached accounts: they are not replayable, which makes their batch run the safe way.
      assert(this.batch === undefined, "vendor entries are appended only in batches without cached accounts");
      return this.append(key, draft, next, meta);
    });
  }

  /** Migrates the database to the newest schema, then opens it for serving. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true });
    await migrateToLatest({ dialect: "sqlite", filename: options.filename });
    const db = new Database(options.filename);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.durability === "full" ? "FULL" : "NORMAL"}`);
      db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
      db.defaultSafeIntegers(true);
      return new SqliteStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** How many mutations wait for a group commit. */
  get writeQueueDepth(): number {
    return this.writer.queueDepth;
  }

  mutate<Reason extends string>(mutation: Mutation<Reason>): Promise<MutationResult<Reason>> {
    return this.writer.submit((nowMs) => this.applyMutation(mutation, nowMs), true);
  }

  mutateGroup<Reason extends string>(mutation: GroupMutation<Reason>): Promise<GroupResult<Reason>> {
    return this.writer.submit((nowMs) => this.applyGroup(mutation, nowMs), true);
  }

  setPolicy(account: AccountKey, policy: AccountPolicy): Promise<AccountPolicyRow> {
    return this.writer.submit((nowMs) => {
      const row = { ...account, ...policy, updatedAtMs: nowMs };
      const info = this.statements.upsertPolicy.run(row);
      assert(info.changes === 1, "a policy write changes exactly one row");
      this.batch?.accounts.setPolicy(account, policy);
      return row;
    }, true);
  }

  getPolicies(userId: string, currency?: string): Promise<AccountPolicyRow[]> {
    return this.read(() =>
      (this.statements.selectUserPolicies.all({ userId, currency: currency ?? null }) as PolicyRow[]).map(toPolicyRow),
    );
  }

  getAccounts(userId: string, currency?: string): Promise<Account[]> {
    return this.read(() => {
      if (currency !== undefined) {
        const row = this.statements.selectAccount.get(userId, currency) as AccountRow | undefined;
        return row === undefined ? [] : [toAccount(row)];
      }
      return (this.statements.selectUserAccounts.all(userId) as AccountRow[]).map(toAccount);
    });
  }

  listOutstandingPayouts(query: PayoutQuery): Promise<PayoutRow[]> {
    return this.read(() => {
      const parameters = {
        currency: query.currency ?? null,
        afterUser: query.after?.userId ?? "",
        afterCurrency: query.after?.currency ?? "",
        limit: query.limit,
      };
      const rows =
        query.userId === undefined
          ? this.statements.selectPayouts.all(parameters)
          : this.statements.selectUserPayouts.all({ ...parameters, userId: query.userId });
      return (rows as AccountRow[]).map(toPayout);
    });
  }

  listEntries(query: EntryQuery): Promise<Entry[]> {
    return this.read(() => {
      const statement =
        query.order === "oldest_first" ? this.statements.selectEntriesOldest : this.statements.selectEntriesNewest;
      const rows = statement.all({
        userId: query.userId,
        currency: query.currency ?? null,
        afterId: query.afterId ?? (query.order === "oldest_first" ? 0n : INT64_MAX),
        fromMs: query.fromMs ?? Number.MIN_SAFE_INTEGER,
        toMs: query.toMs ?? Number.MAX_SAFE_INTEGER,
        kinds: query.kinds === undefined ? null : JSON.stringify(query.kinds),
        limit: query.limit,
      }) as EntryRow[];
      return rows.map(toEntry);
    });
  }

  lastEntryAsOf(key: AccountKey, asOfMs: number): Promise<Entry | undefined> {
    return this.read(() => {
      const row = this.statements.selectLastEntryAsOf.get(key.userId, key.currency, asOfMs) as EntryRow | undefined;
      return row === undefined ? undefined : toEntry(row);
    });
  }

  entryTotals(key: AccountKey, afterId: bigint, throughId: bigint): Promise<EntryTotal[]> {
    return this.read(() =>
      (this.statements.selectEntryTotals.all(key.userId, key.currency, afterId, throughId) as SplitTotalRow[]).map(
        (row) =>
          toTotal({
            ...row,
            amount: row.amount_high * 4294967296n + row.amount_low,
            delta: row.delta_high * 4294967296n + row.delta_low,
          }),
      ),
    );
  }

  scanEntries(scan: EntryScan): Promise<Entry[]> {
    return this.read(() => {
      const rows = this.statements.scanEntries.all({
        userId: scan.userId ?? null,
        currency: scan.currency ?? null,
        afterId: scan.afterId,
        throughId: scan.throughId ?? INT64_MAX,
        fromMs: scan.fromMs ?? Number.MIN_SAFE_INTEGER,
        toMs: scan.toMs ?? Number.MAX_SAFE_INTEGER,
        limit: scan.limit,
      }) as EntryRow[];
      return rows.map(toEntry);
    });
  }

  getEntry(id: bigint): Promise<Entry | undefined> {
    return this.read(() => {
      const row = this.statements.selectEntryById.get(id) as EntryRow | undefined;
      return row === undefined ? undefined : toEntry(row);
    });
  }

  getHold(holdId: bigint): Promise<Hold | undefined> {
    return this.read(() => this.readHold(holdId));
  }

  activeHoldsByExpiry(limit: number): Promise<Hold[]> {
    return this.read(() => (this.statements.selectActiveHolds.all(limit) as HoldRow[]).map(toHold));
  }

  ping(): Promise<void> {
    return this.read(() => {
      this.statements.ping.get();
    });
  }

  withSnapshot<T>(
    read: (entries: Iterable<Entry>, accounts: Iterable<Account>, batches: ReadonlyMap<bigint, bigint>) => T,
  ): Promise<T> {
    // One read transaction, so entries and accounts come from the same instant; iterating
    // keeps memory flat however long the ledger is.
    return this.read(() =>
      this.db.transaction(() => {
        const rows = this.statements.selectBatchLegCounts.all() as { group_id: bigint; leg_count: bigint }[];
        const batches = new Map(rows.map((row) => [row.group_id, row.leg_count]));
        return read(this.iterateEntries(), this.iterateAccounts(), batches);
      })(),
    );
  }

  private *iterateEntries(): Generator<Entry> {
    for (const row of this.statements.selectAllEntries.iterate() as Iterable<EntryRow>) yield toEntry(row);
  }

  private *iterateAccounts(): Generator<Account> {
    for (const row of this.statements.selectAllAccounts.iterate() as Iterable<AccountRow>) yield toAccount(row);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.writer.drain();
    this.feed.close();
    this.db.close();
    return Promise.resolve();
  }

  /** The highest entry id ever committed (AUTOINCREMENT never reuses one); 0 for an empty ledger. */
  private newestEntryId(): bigint {
    const row = this.statements.selectEntrySequence.get() as { seq: bigint } | undefined;
    return row?.seq ?? 0n;
  }

  private read<T>(query: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the ledger is shutting down"));
    try {
      return Promise.resolve(query());
    } catch (error) {
      return Promise.reject(new StoreUnavailableError("the ledger could not read its database", { cause: error }));
    }
  }

  private applyMutation<Reason extends string>(mutation: Mutation<Reason>, nowMs: number): MutationResult<Reason> {
    const { userId } = mutation.account;
    if (mutation.idempotencyKey !== null) {
      const existing = this.entryByKey(userId, mutation.idempotencyKey);
      if (existing !== undefined) return { type: "existing", entry: toEntry(existing) };
    }
    const before = this.accountState(mutation.account);
    const policy = this.accountPolicy(mutation.account);
    const hold = mutation.holdId === undefined ? undefined : this.readHold(mutation.holdId);
    const verdict = mutation.decide(before, nowMs, policy, hold);
    if (verdict.type === "reject") {
      return {
        type: "rejected",
        reason: verdict.reason,
        current: before,
        policy,
        ...(hold === undefined ? {} : { hold }),
      };
    }
    // A new hold's id is the id of the entry that places it: AUTOINCREMENT hands out seq + 1.
    const holdId = verdict.hold === undefined ? null : (mutation.holdId ?? this.nextEntryId());
    const meta = { idempotencyKey: mutation.idempotencyKey, externalId: null, occurredAtMs: nowMs, createdAtMs: nowMs };
    const entry = this.append(mutation.account, verdict.entry, verdict.next, meta, null, holdId);
    if (verdict.hold !== undefined && holdId !== null) {
      assert(entry.id === holdId || mutation.holdId !== undefined, "a new hold took the id of its entry");
      const row = { holdId, ...mutation.account, ...verdict.hold, updatedAtMs: nowMs };
      const written =
        mutation.holdId === undefined
          ? this.statements.insertHold.run({ ...row, createdAtMs: nowMs })
          : this.statements.updateHold.run(row);
      assert(written.changes === 1, "a hold write changes exactly one row");
    }
    return { type: "applied", entry, before, after: verdict.next };
  }

  /** Inserts the hold a group leg placed, or stores the state a leg left one of its holds in. */
  private writeHold(
    holdId: bigint,
    account: AccountKey,
    hold: NonNullable<GroupLeg["hold"]>,
    entry: Entry,
    nowMs: number,
  ): void {
    const row = { holdId, ...account, ...hold.state, updatedAtMs: nowMs };
    if (hold.holdId === null) assert(entry.id === holdId, "a new hold took the id of its entry");
    const written =
      hold.holdId === null
        ? this.statements.insertHold.run({ ...row, createdAtMs: nowMs })
        : this.statements.updateHold.run(row);
    assert(written.changes === 1, "a hold write changes exactly one row");
  }

  /** The id the next appended entry takes. */
  private nextEntryId(): bigint {
    return this.batch === undefined ? this.newestEntryId() + 1n : this.batch.entries.peekId();
  }

  /** The entry recorded under the user's key, counting the entries this batch has yet to insert. */
  private entryByKey(userId: string, key: string): EntryRow | undefined {
    if (this.batch?.entries.hasPendingKey(userId, key) === true) this.batch.entries.flush();
    return this.statements.selectEntryByKey.get(userId, key) as EntryRow | undefined;
  }

  private insertEntriesOf(rows: number): Statement {
    let statement = this.insertEntryRows.get(rows);
    if (statement === undefined) {
      statement = this.db.prepare(insertEntriesSql(rows));
      this.insertEntryRows.set(rows, statement);
    }
    return statement;
  }

  private readHold(holdId: bigint): Hold | undefined {
    const row = this.statements.selectHold.get(holdId) as HoldRow | undefined;
    return row === undefined ? undefined : toHold(row);
  }

  /**
   * The decision is made before the first append. An append that throws rolls every leg back:
   * with the whole batch when it ran without savepoints (the group commit then runs the batch
   * again with one savepoint per call), or with this call's savepoint.
   */
  private applyGroup<Reason extends string>(mutation: GroupMutation<Reason>, nowMs: number): GroupResult<Reason> {
    if (mutation.idempotency !== null) {
      const { userId, key } = mutation.idempotency;
      const existing = this.entryByKey(userId, key);
      if (existing !== undefined) return this.existingGroup(existing);
    }
    const before = mutation.accounts.map((account) => this.accountState(account));
    const policies = mutation.accounts.map((account) => this.accountPolicy(account));
    const holds = (mutation.holdIds ?? []).map((holdId) => this.readHold(holdId));
    const verdict = mutation.decide(before, nowMs, policies, holds);
    if (verdict.type === "reject") {
      return { type: "rejected", reason: verdict.reason, current: before, policies, holds, nowMs };
    }
    assertGroupLegs(mutation, verdict.legs, before);
    // AUTOINCREMENT hands out sqlite_sequence.seq + 1 next, and this connection is the only writer.
    const groupId = this.nextEntryId();
    const entries = verdict.legs.map((leg, index) => {
      // A hold placed by this leg takes the id of its entry, which AUTOINCREMENT hands out next.
      const holdId = leg.hold === undefined ? null : (leg.hold.holdId ?? this.nextEntryId());
      const entry = this.append(
        leg.account,
        leg.entry,
        leg.next,
        {
          idempotencyKey: index === 0 ? (mutation.idempotency?.key ?? null) : null,
          externalId: null,
          occurredAtMs: nowMs,
          createdAtMs: nowMs,
        },
        groupId,
        holdId,
      );
      if (leg.hold !== undefined && holdId !== null) this.writeHold(holdId, leg.account, leg.hold, entry, nowMs);
      return entry;
    });
    assert(entries[0]?.id === groupId, "the group's first entry took the id the sequence promised");
    if (mutation.batchDigest !== undefined) {
      this.statements.insertBatch.run(groupId, mutation.batchDigest, BigInt(entries.length));
    }
    return { type: "applied", groupId, entries, before };
  }

  private existingGroup<Reason extends string>(first: EntryRow): GroupResult<Reason> {
    const groupId = first.group_id ?? null;
    if (groupId === null) return { type: "existing", groupId, entries: [toEntry(first)] };
    const rows = this.statements.selectGroup.all(groupId) as EntryRow[];
    const batch = this.statements.selectBatch.get(groupId) as { digest: string } | undefined;
    return {
      type: "existing",
      groupId,
      entries: rows.map(toEntry),
      ...(batch === undefined ? {} : { batchDigest: batch.digest }),
    };
  }

  /** The account as the current batch left it: from the batch's cache, or read now. */
  private accountState(key: AccountKey): AccountState | undefined {
    return this.batch === undefined ? this.readAccountState(key) : this.batch.accounts.state(key);
  }

  private accountPolicy(key: AccountKey): AccountPolicy {
    return this.batch === undefined ? this.readPolicy(key) : this.batch.accounts.policy(key);
  }

  private readPolicy(key: AccountKey): AccountPolicy {
    const row = this.statements.selectPolicy.get(key.userId, key.currency) as PolicyRow | undefined;
    return row === undefined ? DEFAULT_POLICY : toPolicyRow(row);
  }

  private readAccountState(key: AccountKey): AccountState | undefined {
    const row = this.statements.selectAccount.get(key.userId, key.currency) as AccountRow | undefined;
    return row === undefined ? undefined : toAccount(row);
  }

  private writeAccount(key: AccountKey, next: AccountState): void {
    const upserted = this.statements.upsertAccount.run({
      userId: key.userId,
      currency: key.currency,
      balance: next.balance,
      earned: next.earned,
      spent: next.spent,
      payoutRequested: next.payoutRequested,
      paidOut: next.paidOut,
      loaded: next.loaded,
      authorized: next.authorized,
      declinedCount: next.declinedCount,
      entryCount: next.entryCount,
      held: next.held,
      createdAtMs: next.createdAtMs,
      updatedAtMs: next.updatedAtMs,
    });
    assert(upserted.changes === 1, "an append writes exactly one account row");
  }

  /**
   * Appends an entry and stores the account's new state (at once, or at the end of a batch
   * without savepoints). Only call inside a write batch: both must commit together.
   */
  private append(
    key: AccountKey,
    draft: EntryDraft,
    next: AccountState,
    meta: Pick<Entry, "idempotencyKey" | "externalId" | "occurredAtMs" | "createdAtMs">,
    groupId: bigint | null = null,
    holdId: bigint | null = null,
  ): Entry {
    const values: EntryValues = [
      key.userId,
      key.currency,
      draft.kind,
      draft.status,
      draft.amount,
      draft.delta,
      next.balance,
      meta.idempotencyKey,
      meta.externalId,
      meta.occurredAtMs,
      meta.createdAtMs,
      groupId,
      holdId,
      draft.heldDelta ?? 0n,
      next.held,
    ];
    let id: bigint;
    if (this.batch === undefined) {
      assert(this.db.inTransaction, "an append runs inside a write batch");
      const info = this.statements.insertEntry.run(values);
      assert(info.changes === 1, "an append inserts exactly one entry");
      id = BigInt(info.lastInsertRowid);
      this.writeAccount(key, next);
    } else {
      // In a batch without savepoints the entry is inserted with its batch-mates' and the
      // account row written once, both before COMMIT.
      id = this.batch.entries.add(values, key.userId, meta.idempotencyKey);
      this.batch.accounts.setState(key, next);
    }
    return {
      id,
      ...key,
      ...draft,
      balanceAfter: next.balance,
      ...meta,
      ...(groupId === null ? {} : { groupId }),
      ...entryHoldFields(draft.kind, holdId, draft.heldDelta ?? 0n, next.held),
    };
  }
}

const INT64_MAX = 2n ** 63n - 1n;

interface SplitTotalRow extends Omit<TotalRow, "amount" | "delta"> {
  amount_high: bigint;
  amount_low: bigint;
  delta_high: bigint;
  delta_low: bigint;
}

/** One history page; `%OP%` and `%DIR%` make the oldest-first and newest-first variants. */
const SELECT_ENTRIES_PAGE = `
  SELECT * FROM entries
  WHERE user_id = @userId AND id %OP% @afterId
    AND (@currency IS NULL OR currency = @currency)
    AND created_at_ms >= @fromMs AND created_at_ms < @toMs
    AND (@kinds IS NULL OR kind IN (SELECT value FROM json_each(@kinds)))
  ORDER BY id %DIR% LIMIT @limit`;

const ACCOUNT_COLUMNS = `user_id, currency, balance, earned, spent, payout_requested, paid_out, loaded,
  authorized, declined_count, entry_count, held, created_at_ms, updated_at_ms`;

function prepare(db: Connection) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    ping: statement("SELECT 1"),
    selectAccount: statement(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = ? AND currency = ?`),
    selectUserAccounts: statement(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = ? ORDER BY currency`),
    selectAllAccounts: statement(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY user_id, currency`),
    selectEntryByKey: statement("SELECT * FROM entries WHERE user_id = ? AND idempotency_key = ?"),
    selectAllEntries: statement("SELECT * FROM entries ORDER BY id"),
    selectEntryById: statement("SELECT * FROM entries WHERE id = ?"),
    scanEntries: statement(`
      SELECT * FROM entries
      WHERE id > @afterId AND id <= @throughId AND (@userId IS NULL OR user_id = @userId)
        AND (@currency IS NULL OR currency = @currency)
        AND created_at_ms >= @fromMs AND created_at_ms < @toMs
      ORDER BY id LIMIT @limit`),
    selectLastEntryAsOf: statement(`
      SELECT * FROM entries WHERE user_id = ? AND currency = ? AND created_at_ms <= ?
      ORDER BY created_at_ms DESC, id DESC LIMIT 1`),
    // SQLite's SUM fails past int64, which lifetime totals may reach (they saturate): each
    // amount is summed as its quotient and remainder by 2^32, which cannot overflow for fewer
    // than 2^31 entries, and recombined exactly as bigint.
    selectEntryTotals: statement(`
      SELECT kind, status, amount > 0 AS positive,
        SUM(amount / 4294967296) AS amount_high, SUM(amount % 4294967296) AS amount_low,
        SUM(delta / 4294967296) AS delta_high, SUM(delta % 4294967296) AS delta_low, COUNT(*) AS count
      FROM entries WHERE user_id = ? AND currency = ? AND id > ? AND id <= ?
      GROUP BY kind, status, amount > 0`),
    selectEntriesOldest: statement(SELECT_ENTRIES_PAGE.replace("%OP%", ">").replace("%DIR%", "ASC")),
    selectEntriesNewest: statement(SELECT_ENTRIES_PAGE.replace("%OP%", "<").replace("%DIR%", "DESC")),
    // Row values seek straight to the page start in the partial index.
    selectPayouts: statement(`
      SELECT ${ACCOUNT_COLUMNS} FROM accounts
      WHERE payout_requested > paid_out AND (user_id, currency) > (@afterUser, @afterCurrency)
        AND (@currency IS NULL OR currency = @currency)
      ORDER BY user_id, currency LIMIT @limit`),
    selectUserPayouts: statement(`
      SELECT ${ACCOUNT_COLUMNS} FROM accounts
      WHERE user_id = @userId AND payout_requested > paid_out
        AND (user_id, currency) > (@afterUser, @afterCurrency)
        AND (@currency IS NULL OR currency = @currency)
      ORDER BY currency LIMIT @limit`),
    insertEntry: statement(`
      INSERT INTO entries (${ENTRY_VALUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    selectHold: statement("SELECT * FROM holds WHERE hold_id = ?"),
    selectActiveHolds: statement("SELECT * FROM holds WHERE status = 'active' ORDER BY expires_at_ms, hold_id LIMIT ?"),
    insertHold: statement(`
      INSERT INTO holds (hold_id, user_id, currency, amount, captured, status, expires_at_ms, created_at_ms, updated_at_ms)
      VALUES (@holdId, @userId, @currency, @amount, @captured, @status, @expiresAtMs, @createdAtMs, @updatedAtMs)`),
    updateHold: statement(`
      UPDATE holds SET captured = @captured, status = @status, updated_at_ms = @updatedAtMs
      WHERE hold_id = @holdId AND user_id = @userId AND currency = @currency`),
    selectPolicy: statement("SELECT * FROM account_policies WHERE user_id = ? AND currency = ?"),
    selectUserPolicies: statement(
      "SELECT * FROM account_policies WHERE user_id = @userId AND (@currency IS NULL OR currency = @currency) ORDER BY currency",
    ),
    upsertPolicy: statement(`
      INSERT INTO account_policies (user_id, currency, overdraft_limit, state, updated_at_ms)
      VALUES (@userId, @currency, @overdraftLimit, @state, @updatedAtMs)
      ON CONFLICT (user_id, currency) DO UPDATE SET overdraft_limit = excluded.overdraft_limit,
        state = excluded.state, updated_at_ms = excluded.updated_at_ms`),
    selectEntrySequence: statement("SELECT seq FROM sqlite_sequence WHERE name = 'entries'"),
    selectGroup: statement("SELECT * FROM entries WHERE group_id = ? ORDER BY id"),
    insertBatch: statement("INSERT INTO entry_batches (group_id, digest, leg_count) VALUES (?, ?, ?)"),
    selectBatch: statement("SELECT digest FROM entry_batches WHERE group_id = ?"),
    selectBatchLegCounts: statement("SELECT group_id, leg_count FROM entry_batches"),
    upsertAccount: statement(`
      INSERT INTO accounts (${ACCOUNT_COLUMNS})
      VALUES (@userId, @currency, @balance, @earned, @spent, @payoutRequested, @paidOut, @loaded,
        @authorized, @declinedCount, @entryCount, @held, @createdAtMs, @updatedAtMs)
      ON CONFLICT (user_id, currency) DO UPDATE SET
        balance = excluded.balance, earned = excluded.earned, spent = excluded.spent,
        payout_requested = excluded.payout_requested, paid_out = excluded.paid_out,
        loaded = excluded.loaded, authorized = excluded.authorized,
        declined_count = excluded.declined_count, entry_count = excluded.entry_count,
        held = excluded.held, updated_at_ms = excluded.updated_at_ms`),
  };
}

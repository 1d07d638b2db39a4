/**
 * The vendor poller's SQL on SQLite: its cursor, its request log, the current closing pass's seen
 * set, the quarantine, the poller lease, and the page commit that applies vendor facts as ledger
 * entries.
 *
 * Every write goes through the group committer, so a page's entries, its quarantined rows and the
 * cursor that moves past them commit in one `BEGIN IMMEDIATE` transaction: a kill leaves either
 * all of them or none. The same transaction checks the lease first, so a poller that lost it
 * writes nothing. Exactly-once rests on the UNIQUE index on `entries.external_id` and on looking
 * the vendor id up before appending.
 */
import type { Database as Connection, Statement } from "better-sqlite3";
import {
  LeaseLostError,
  type AcceptedOffset,
  type CheckedRow,
  type IngestStore,
  type PageCommit,
  type PageOutcome,
  type QuarantineRecord,
  type QuarantineRow,
  type RangeCheck,
  type RangeRequestKind,
  type ReopenRequest,
  type Reservation,
  type VendorCursor,
} from "../../ingest-port.js";
import type { AccountKey, AccountState, Entry, EntryDraft } from "../../store.js";
import {
  rangeCheckColumns,
  toAccount,
  toReopenRequest,
  toVendorCursor,
  type AccountRow,
  type CursorRow,
  type ReopenRow,
} from "../../rows.js";
import type { GroupCommitter } from "./group-commit.js";

/** Appends an entry and its account's new state inside the current write transaction. */
export type AppendEntry = (
  key: AccountKey,
  draft: EntryDraft,
  next: AccountState,
  meta: Pick<Entry, "idempotencyKey" | "externalId" | "occurredAtMs" | "createdAtMs">,
) => Entry;

/** The longest createdAt range one synchronous count of held vendor rows covers (see countHeldRows). */
const COUNT_SLICE_MS = 6 * 3_600_000;

export class SqliteIngestStore implements IngestStore {
  private readonly statements: ReturnType<typeof prepare>;

  constructor(
    db: Connection,
    private readonly writer: GroupCommitter,
    private readonly append: AppendEntry,
  ) {
    this.statements = prepare(db);
  }

  loadCursor(initialClosedUntilMs: number): Promise<VendorCursor> {
    return this.writer.submit((nowMs) => {
      this.statements.insertCursor.run(initialClosedUntilMs, nowMs);
      return this.readCursor();
    });
  }

  acquireLease(holderId: string, nowMs: number, ttlMs: number): Promise<boolean> {
    return this.writer.submit(() => {
      const info = this.statements.takeLease.run({ holderId, nowMs, expiresAtMs: nowMs + ttlMs });
      return info.changes > 0;
    });
  }

  releaseLease(holderId: string): Promise<void> {
    return this.writer.submit((nowMs) => {
      this.statements.releaseLease.run({ holderId, nowMs });
    });
  }

  reserveRequest(nowMs: number, requestsMax: number, windowMs: number, inFlightUntilMs: number): Promise<Reservation> {
    return this.writer.submit((): Reservation => {
      const since = nowMs - windowMs;
      const rows = this.statements.selectRecentRequests.all(since, requestsMax) as { sent_at_ms: bigint }[];
      if (rows.length >= requestsMax) {
        const oldest = rows[0]?.sent_at_ms ?? BigInt(nowMs);
        return { granted: false, retryAtMs: Number(oldest) + windowMs + 1 };
      }
      const id = Number(this.statements.insertRequest.run(inFlightUntilMs).lastInsertRowid);
      this.statements.pruneRequests.run(since - windowMs);
      return { granted: true, id };
    });
  }

  settleRequest(id: number, doneAtMs: number): Promise<void> {
    return this.writer.submit(() => {
      this.statements.settleRequest.run(doneAtMs, id);
    });
  }

  countRequestsSince(sinceMs: number): Promise<number> {
    return this.read(() => Number((this.statements.countRequests.get(sinceMs) as { count: bigint }).count));
  }

  startPass(cursor: VendorCursor, holderId: string): Promise<void> {
    return this.writer.submit((nowMs) => {
      this.checkLease(holderId);
      this.statements.clearSeen.run();
      this.writeCursor(cursor, nowMs);
    });
  }

  commitPage(page: PageCommit): Promise<PageOutcome> {
    return this.writer.submit((nowMs) => {
      this.checkLease(page.holderId);
      const counts = { applied: 0, duplicates: 0, quarantined: 0, conflicts: 0, overflows: 0 };
      let newest: number | null = null;
      for (const row of page.rows) {
        if (page.closing !== undefined) this.statements.insertSeen.run(row.identity);
        if (row.type === "bad") {
          counts.quarantined += this.quarantine(row.record, nowMs);
          continue;
        }
        const { result, quarantinedNew } = this.applyFact(row, page, nowMs);
        counts[result] += 1;
        counts.quarantined += quarantinedNew;
        if (result === "applied") newest = Math.max(newest ?? row.fact.occurredAtMs, row.fact.occurredAtMs);
      }
      if (newest !== null) this.statements.raiseNewest.run({ newest, nowMs });
      let cursor: VendorCursor | undefined;
      if (page.closing !== undefined) {
        const distinct = Number((this.statements.countSeen.get() as { count: bigint }).count);
        cursor = page.closing(distinct);
        // A finished pass, or one started over without a count to hold on to, has seen nothing.
        if (cursor.pass === null || cursor.pass.totalItems === null) this.statements.clearSeen.run();
        this.writeCursor(cursor, nowMs);
        cursor = this.readCursor();
      }
      return { ...counts, cursor };
    });
  }

  listQuarantine(limit = 10_000): Promise<QuarantineRow[]> {
    return this.read(() => this.readQuarantine(limit));
  }

  countQuarantine(): Promise<number> {
    return this.read(() => Number((this.statements.countQuarantine.get() as { count: bigint }).count));
  }

  /**
   * Counted in slices of `COUNT_SLICE_MS`, yielding to the event loop between them: the count
   * runs on the thread that answers calls, and one index count over reconciliation's 30-day
   * horizon at 1,000 rows a minute (43 million entries, about 40 ms per 1.4 million here) would
   * hold every call for over a second. The slices are not one snapshot; the ranges counted are
   * closed history, which only reads of this same poller change.
   */
  async countHeldRows(
    startMs: number,
    endMs: number,
    createdAtOf: (raw: string) => number | undefined,
  ): Promise<number> {
    let held = 0;
    for (let sliceMs = startMs; sliceMs < endMs; sliceMs += COUNT_SLICE_MS) {
      if (sliceMs > startMs) await new Promise((resolve) => setImmediate(resolve));
      const sliceEndMs = Math.min(endMs, sliceMs + COUNT_SLICE_MS);
      held += await this.read(() => {
        const entries = this.statements.countVendorEntries.get(sliceMs, sliceEndMs) as { count: bigint };
        return Number(entries.count);
      });
    }
    return this.read(() => {
      for (const row of this.statements.selectQuarantineRaw.iterate() as Iterable<{ raw: string }>) {
        const createdAtMs = createdAtOf(row.raw);
        if (createdAtMs !== undefined && createdAtMs >= startMs && createdAtMs < endMs) held += 1;
      }
      return held;
    });
  }

  queueReopen(startMs: number, endMs: number, nowMs: number, kind: RangeRequestKind = "reopen"): Promise<number> {
    return this.writer.submit(() =>
      Number(this.statements.insertReopen.run(startMs, endMs, nowMs, kind).lastInsertRowid),
    );
  }

  nextReopen(): Promise<ReopenRequest | undefined> {
    return this.read(() => {
      const row = this.statements.selectNextReopen.get() as ReopenRow | undefined;
      return row === undefined ? undefined : toReopenRequest(row);
    });
  }

  finishReopen(id: number, nowMs: number, rowsRecovered: number, check?: RangeCheck): Promise<void> {
    return this.writer.submit(() => {
      this.statements.finishReopen.run(nowMs, rowsRecovered, ...rangeCheckColumns(check), id);
    });
  }

  getReopen(id: number): Promise<ReopenRequest | undefined> {
    return this.read(() => {
      const row = this.statements.selectReopen.get(id) as ReopenRow | undefined;
      return row === undefined ? undefined : toReopenRequest(row);
    });
  }

  loadAcceptedOffsets(): Promise<AcceptedOffset[]> {
    return this.read(() =>
      (this.statements.selectAccepted.all() as { start_ms: bigint; end_ms: bigint; offset_rows: bigint }[]).map(
        (row) => ({ startMs: Number(row.start_ms), endMs: Number(row.end_ms), offset: Number(row.offset_rows) }),
      ),
    );
  }

  acceptOffset(accepted: AcceptedOffset): Promise<void> {
    return this.writer.submit(() => {
      this.statements.deleteAcceptedReplaced.run(accepted);
      if (accepted.offset !== 0) this.statements.insertAccepted.run(accepted.startMs, accepted.endMs, accepted.offset);
    });
  }

  /** Throws inside the transaction, so nothing of it commits, unless `holderId` holds the lease. */
  private checkLease(holderId: string): void {
    const row = this.statements.selectLease.get() as { holder_id: string } | undefined;
    if (row?.holder_id !== holderId) throw new LeaseLostError(holderId);
  }

  private read<T>(query: () => T): Promise<T> {
    try {
      return Promise.resolve(query());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private readQuarantine(limit: number): QuarantineRow[] {
    const rows = this.statements.selectQuarantine.all(limit) as {
      fingerprint: string;
      vendor_id: string | null;
      reason: string;
      detail: string;
      raw: string;
      seen_count: bigint;
      first_seen_at_ms: bigint;
    }[];
    return rows.map((row) => ({
      fingerprint: row.fingerprint,
      vendorId: row.vendor_id,
      reason: row.reason,
      detail: row.detail,
      raw: row.raw,
      seenCount: Number(row.seen_count),
      firstSeenAtMs: Number(row.first_seen_at_ms),
    }));
  }

  private applyFact(
    row: Extract<CheckedRow, { type: "fact" }>,
    page: PageCommit,
    nowMs: number,
  ): { result: "applied" | "duplicates" | "conflicts" | "overflows"; quarantinedNew: number } {
    const { fact } = row;
    const existing = this.statements.selectEntryByExternal.get(fact.externalId) as
      { user_id: string; currency: string; kind: string; amount: bigint; occurred_at_ms: bigint } | undefined;
    if (existing !== undefined) {
      const same =
        existing.user_id === fact.userId &&
        existing.currency === page.currency &&
        existing.kind === fact.kind &&
        existing.amount === fact.amountMinor &&
        Number(existing.occurred_at_ms) === fact.occurredAtMs;
      if (same) return { result: "duplicates", quarantinedNew: 0 };
      const quarantinedNew = this.quarantine(
        {
          fingerprint: row.fingerprint,
          vendorId: fact.externalId,
          reason: "conflict",
          raw: row.raw,
          detail:
            `vendor id ${fact.externalId} was already applied with different content ` +
            `(user ${existing.user_id}, ${existing.kind}, ${existing.amount} minor units, at ${Number(existing.occurred_at_ms)} ms)`,
        },
        nowMs,
      );
      return { result: "conflicts", quarantinedNew };
    }
    const key = { userId: fact.userId, currency: page.currency };
    const accountRow = this.statements.selectAccount.get(key.userId, key.currency) as AccountRow | undefined;
    const folded = page.fold(accountRow === undefined ? undefined : toAccount(accountRow), fact, nowMs);
    if (folded === undefined) {
      const quarantinedNew = this.quarantine(
        {
          fingerprint: row.fingerprint,
          vendorId: fact.externalId,
          reason: "balance_overflow",
          raw: row.raw,
          detail: `applying ${fact.amountMinor} minor units would take a total of user ${fact.userId} outside int64`,
        },
        nowMs,
      );
      return { result: "overflows", quarantinedNew };
    }
    this.append(key, folded.draft, folded.next, {
      idempotencyKey: null,
      externalId: fact.externalId,
      occurredAtMs: fact.occurredAtMs,
      createdAtMs: nowMs,
    });
    return { result: "applied", quarantinedNew: 0 };
  }

  /** Records a bad row; answers 1 when it is new and 0 when it was already there. */
  private quarantine(record: QuarantineRecord, nowMs: number): number {
    const info = this.statements.insertQuarantine.run({ ...record, nowMs });
    if (info.changes > 0) return 1;
    this.statements.touchQuarantine.run(nowMs, record.fingerprint);
    return 0;
  }

  private readCursor(): VendorCursor {
    return toVendorCursor(this.statements.selectCursor.get() as CursorRow);
  }

  private writeCursor(cursor: VendorCursor, nowMs: number): void {
    const { pass } = cursor;
    this.statements.updateCursor.run({
      closedUntilMs: cursor.closedUntilMs,
      passStartMs: pass?.startMs ?? null,
      passEndMs: pass?.endMs ?? null,
      passNextPage: pass?.nextPage ?? null,
      passTotalItems: pass?.totalItems ?? null,
      passDirty: pass?.dirty === true ? 1 : 0,
      passAttempts: pass?.attempts ?? 0,
      nowMs,
    });
  }
}

function prepare(db: Connection) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    // Taken when free, expired, or already ours: one statement, so the check and the write are atomic.
    takeLease: statement(`
      UPDATE vendor_lease SET holder_id = @holderId, expires_at_ms = @expiresAtMs, updated_at_ms = @nowMs
      WHERE id = 1 AND (holder_id = @holderId OR holder_id = '' OR expires_at_ms <= @nowMs)`),
    releaseLease: statement(`
      UPDATE vendor_lease SET holder_id = '', expires_at_ms = 0, updated_at_ms = @nowMs
      WHERE id = 1 AND holder_id = @holderId`),
    selectLease: statement(`SELECT holder_id FROM vendor_lease WHERE id = 1`),
    insertCursor: statement(
      `INSERT OR IGNORE INTO vendor_cursor (id, closed_until_ms, updated_at_ms) VALUES (1, ?, ?)`,
    ),
    selectCursor: statement(`SELECT * FROM vendor_cursor WHERE id = 1`),
    updateCursor: statement(`
      UPDATE vendor_cursor SET closed_until_ms = @closedUntilMs, pass_start_ms = @passStartMs,
        pass_end_ms = @passEndMs, pass_next_page = @passNextPage, pass_total_items = @passTotalItems,
        pass_dirty = @passDirty, pass_attempts = @passAttempts, updated_at_ms = @nowMs
      WHERE id = 1`),
    raiseNewest: statement(`
      UPDATE vendor_cursor SET newest_created_at_ms = MAX(COALESCE(newest_created_at_ms, @newest), @newest),
        updated_at_ms = @nowMs WHERE id = 1`),
    selectRecentRequests: statement(`
      SELECT sent_at_ms FROM vendor_requests WHERE sent_at_ms > ? ORDER BY sent_at_ms LIMIT ?`),
    countRequests: statement(`SELECT COUNT(*) AS count FROM vendor_requests WHERE sent_at_ms > ?`),
    insertRequest: statement(`INSERT INTO vendor_requests (sent_at_ms) VALUES (?)`),
    settleRequest: statement(`UPDATE vendor_requests SET sent_at_ms = ? WHERE id = ?`),
    pruneRequests: statement(`DELETE FROM vendor_requests WHERE sent_at_ms < ?`),
    clearSeen: statement(`DELETE FROM vendor_pass_seen`),
    insertSeen: statement(`INSERT OR IGNORE INTO vendor_pass_seen (identity) VALUES (?)`),
    countSeen: statement(`SELECT COUNT(*) AS count FROM vendor_pass_seen`),
    insertQuarantine: statement(`
      INSERT OR IGNORE INTO vendor_quarantine (fingerprint, vendor_id, reason, detail, raw,
        seen_count, first_seen_at_ms, last_seen_at_ms)
      VALUES (@fingerprint, @vendorId, @reason, @detail, @raw, 1, @nowMs, @nowMs)`),
    touchQuarantine: statement(`
      UPDATE vendor_quarantine SET seen_count = seen_count + 1, last_seen_at_ms = ? WHERE fingerprint = ?`),
    selectQuarantine: statement(`SELECT * FROM vendor_quarantine ORDER BY first_seen_at_ms, fingerprint LIMIT ?`),
    countQuarantine: statement(`SELECT COUNT(*) AS count FROM vendor_quarantine`),
    selectQuarantineRaw: statement(`SELECT raw FROM vendor_quarantine`),
    countVendorEntries: statement(`
      SELECT COUNT(*) AS count FROM entries
      WHERE external_id IS NOT NULL AND occurred_at_ms >= ? AND occurred_at_ms < ?`),
    insertReopen: statement(`
      INSERT INTO vendor_reopen_requests (start_ms, end_ms, requested_at_ms, kind) VALUES (?, ?, ?, ?)`),
    selectNextReopen: statement(`
      SELECT * FROM vendor_reopen_requests WHERE done_at_ms IS NULL ORDER BY id LIMIT 1`),
    finishReopen: statement(`
      UPDATE vendor_reopen_requests
      SET done_at_ms = ?, rows_recovered = ?, ranges_verified = ?, ranges_differing = ?, differences = ?
      WHERE id = ? AND done_at_ms IS NULL`),
    selectReopen: statement(`SELECT * FROM vendor_reopen_requests WHERE id = ?`),
    selectAccepted: statement(`SELECT start_ms, end_ms, offset_rows FROM vendor_reconcile_accepted ORDER BY start_ms`),
    // Replaced: the same range and ranges overlapping it partly; ranges inside it too when it
    // has no offset. Ranges around it stay (see AcceptedOffsets in src/ingest/accepted-offsets.ts).
    deleteAcceptedReplaced: statement(`
      DELETE FROM vendor_reconcile_accepted
      WHERE start_ms < @endMs AND end_ms > @startMs
        AND NOT (start_ms <= @startMs AND end_ms >= @endMs AND (start_ms < @startMs OR end_ms > @endMs))
        AND NOT (@offset <> 0 AND start_ms >= @startMs AND end_ms <= @endMs AND (start_ms > @startMs OR end_ms < @endMs))`),
    insertAccepted: statement(`
      INSERT INTO vendor_reconcile_accepted (start_ms, end_ms, offset_rows) VALUES (?, ?, ?)`),
    selectEntryByExternal: statement(`
      SELECT user_id, currency, kind, amount, occurred_at_ms FROM entries WHERE external_id = ?`),
    selectAccount: statement(`
      SELECT user_id, currency, balance, earned, spent, payout_requested, paid_out, loaded,
        authorized, declined_count, entry_count, created_at_ms, updated_at_ms
      FROM accounts WHERE user_id = ? AND currency = ?`),
  };
}

/**
 * The vendor poller's SQL: its cursor, its request log, the current closing pass's seen set,
 * the quarantine, and the page commit that applies vendor facts as ledger entries.
 *
 * Every write goes through `SqliteStore.submitWrite`, so a page's entries, its quarantined rows
 * and the cursor that moves past them commit in one `BEGIN IMMEDIATE` transaction: a kill leaves
 * either all of them or none. Exactly-once rests on the UNIQUE index on `entries.external_id`
 * and on looking the vendor id up before appending.
 */
import type { Statement } from "better-sqlite3";
import type { AccountState, EntryDraft } from "../store.js";
import { toAccount, type AccountRow } from "./rows.js";
import type { SqliteStore } from "./sqlite-store.js";

export type VendorEntryKind = "vendor_earned" | "vendor_spent" | "vendor_payout" | "vendor_paid_out";

/** A validated vendor transaction, in minor units of the poller's currency. */
export interface VendorFact {
  readonly externalId: string;
  readonly userId: string;
  readonly kind: VendorEntryKind;
  readonly amountMinor: bigint;
  readonly occurredAtMs: number;
}

export interface QuarantineRecord {
  /** SHA-256 of `raw`: the same bad row read twice is recorded once. */
  readonly fingerprint: string;
  readonly vendorId: string | null;
  readonly reason: string;
  readonly detail: string;
  /** The item's JSON exactly as the vendor sent it. */
  readonly raw: string;
}

/** One item of a page after validation. `identity` is the vendor id, or a hash of the raw text. */
export type CheckedRow =
  | { readonly type: "fact"; readonly identity: string; readonly raw: string; readonly fingerprint: string; readonly fact: VendorFact }
  | { readonly type: "bad"; readonly identity: string; readonly record: QuarantineRecord };

/** The domain's fold of one fact into an account: undefined when a total would leave int64. */
export type FoldFact = (
  state: AccountState | undefined,
  fact: VendorFact,
  atMs: number,
) => { readonly draft: EntryDraft; readonly next: AccountState } | undefined;

/** A closing pass over [startMs, endMs): read page by page, verified against the vendor's count. */
export interface ClosingPass {
  readonly startMs: number;
  readonly endMs: number;
  readonly nextPage: number;
  /** The vendor's totalItems on the first page read; null before it (and the seen set is then empty). */
  readonly totalItems: number | null;
  /** Set when a later page reported a different totalItems. */
  readonly dirty: boolean;
  /** Passes over this range already completed without verifying. */
  readonly attempts: number;
}

export interface VendorCursor {
  /** Every window before this instant has been read completely after its lateness bound. */
  readonly closedUntilMs: number;
  readonly pass: ClosingPass | null;
  readonly newestCreatedAtMs: number | null;
}

export interface PageCommit {
  readonly rows: readonly CheckedRow[];
  readonly currency: string;
  readonly fold: FoldFact;
  /** For a closing pass: the cursor to store, given how many distinct rows the pass has seen. */
  readonly closing?: (distinctSeen: number) => VendorCursor;
}

export interface PageOutcome {
  readonly applied: number;
  readonly duplicates: number;
  /** Bad rows recorded for the first time (conflicts and overflows included). */
  readonly quarantined: number;
  readonly conflicts: number;
  readonly overflows: number;
  readonly cursor: VendorCursor | undefined;
}

export type Reservation = { readonly granted: true } | { readonly granted: false; readonly retryAtMs: number };

export interface QuarantineRow extends QuarantineRecord {
  readonly seenCount: number;
  readonly firstSeenAtMs: number;
}

interface CursorRow {
  closed_until_ms: bigint;
  pass_start_ms: bigint | null;
  pass_end_ms: bigint | null;
  pass_next_page: bigint | null;
  pass_total_items: bigint | null;
  pass_dirty: bigint;
  pass_attempts: bigint;
  newest_created_at_ms: bigint | null;
}

const toNumber = (value: bigint | null): number | null => (value === null ? null : Number(value));

export class VendorStore {
  private readonly statements: ReturnType<typeof prepare>;

  constructor(private readonly store: SqliteStore) {
    this.statements = prepare(store);
  }

  /** The stored cursor, created at `initialClosedUntilMs` on first use. */
  loadCursor(initialClosedUntilMs: number): Promise<VendorCursor> {
    return this.store.submitWrite((nowMs) => {
      this.statements.insertCursor.run(initialClosedUntilMs, nowMs);
      return this.readCursor();
    });
  }

  /**
   * Records a request in the log if fewer than `requestsMax` were sent in the `windowMs` before
   * `nowMs`; the row is durable before the caller may send. Otherwise says when to ask again.
   */
  reserveRequest(nowMs: number, requestsMax: number, windowMs: number): Promise<Reservation> {
    return this.store.submitWrite((): Reservation => {
      const since = nowMs - windowMs;
      const rows = this.statements.selectRecentRequests.all(since, requestsMax) as { sent_at_ms: bigint }[];
      if (rows.length >= requestsMax) {
        const oldest = rows[0]?.sent_at_ms ?? BigInt(nowMs);
        return { granted: false, retryAtMs: Number(oldest) + windowMs + 1 };
      }
      this.statements.insertRequest.run(nowMs);
      this.statements.pruneRequests.run(since - windowMs);
      return { granted: true };
    });
  }

  /** How many requests the log holds after `sinceMs`. */
  countRequestsSince(sinceMs: number): number {
    return Number((this.statements.countRequests.get(sinceMs) as { count: bigint }).count);
  }

  /** Stores a new closing pass and forgets the rows the previous one saw. */
  startPass(cursor: VendorCursor): Promise<void> {
    return this.store.submitWrite((nowMs) => {
      this.statements.clearSeen.run();
      this.writeCursor(cursor, nowMs);
    });
  }

  /** Applies a page's facts, quarantines its bad rows and, for a closing pass, moves the cursor. */
  commitPage(page: PageCommit): Promise<PageOutcome> {
    return this.store.submitWrite((nowMs) => {
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

  /** The quarantine, oldest first, for operators and tests. */
  listQuarantine(limit = 10_000): QuarantineRow[] {
    const rows = this.statements.selectQuarantine.all(limit) as {
      fingerprint: string; vendor_id: string | null; reason: string; detail: string; raw: string;
      seen_count: bigint; first_seen_at_ms: bigint;
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

  countQuarantine(): number {
    return Number((this.statements.countQuarantine.get() as { count: bigint }).count);
  }

  private applyFact(
    row: Extract<CheckedRow, { type: "fact" }>,
    page: PageCommit,
    nowMs: number,
  ): { result: "applied" | "duplicates" | "conflicts" | "overflows"; quarantinedNew: number } {
    const { fact } = row;
    const existing = this.statements.selectEntryByExternal.get(fact.externalId) as
      | { user_id: string; currency: string; kind: string; amount: bigint; occurred_at_ms: bigint }
      | undefined;
    if (existing !== undefined) {
      const same = existing.user_id === fact.userId && existing.currency === page.currency &&
        existing.kind === fact.kind && existing.amount === fact.amountMinor &&
        Number(existing.occurred_at_ms) === fact.occurredAtMs;
      if (same) return { result: "duplicates", quarantinedNew: 0 };
      const quarantinedNew = this.quarantine({
        fingerprint: row.fingerprint, vendorId: fact.externalId, reason: "conflict", raw: row.raw,
        detail: `vendor id ${fact.externalId} was already applied with different content ` +
          `(user ${existing.user_id}, ${existing.kind}, ${existing.amount} minor units, at ${Number(existing.occurred_at_ms)} ms)`,
      }, nowMs);
      return { result: "conflicts", quarantinedNew };
    }
    const key = { userId: fact.userId, currency: page.currency };
    const accountRow = this.statements.selectAccount.get(key.userId, key.currency) as AccountRow | undefined;
    const folded = page.fold(accountRow === undefined ? undefined : toAccount(accountRow), fact, nowMs);
    if (folded === undefined) {
      const quarantinedNew = this.quarantine({
        fingerprint: row.fingerprint, vendorId: fact.externalId, reason: "balance_overflow", raw: row.raw,
        detail: `applying ${fact.amountMinor} minor units would take a total of user ${fact.userId} outside int64`,
      }, nowMs);
      return { result: "overflows", quarantinedNew };
    }
    this.store.append(key, folded.draft, folded.next, {
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
    const row = this.statements.selectCursor.get() as CursorRow;
    const pass: ClosingPass | null = row.pass_start_ms === null || row.pass_end_ms === null ? null : {
      startMs: Number(row.pass_start_ms),
      endMs: Number(row.pass_end_ms),
      nextPage: Number(row.pass_next_page ?? 1n),
      totalItems: toNumber(row.pass_total_items),
      dirty: row.pass_dirty !== 0n,
      attempts: Number(row.pass_attempts),
    };
    return { closedUntilMs: Number(row.closed_until_ms), pass, newestCreatedAtMs: toNumber(row.newest_created_at_ms) };
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

function prepare(store: SqliteStore) {
  const statement = (sql: string): Statement => store.db.prepare(sql);
  return {
    insertCursor: statement(`INSERT OR IGNORE INTO vendor_cursor (id, closed_until_ms, updated_at_ms) VALUES (1, ?, ?)`),
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
    selectEntryByExternal: statement(`
      SELECT user_id, currency, kind, amount, occurred_at_ms FROM entries WHERE external_id = ?`),
    selectAccount: statement(`
      SELECT user_id, currency, balance, earned, spent, payout_requested, paid_out, loaded,
        authorized, declined_count, entry_count, created_at_ms, updated_at_ms
      FROM accounts WHERE user_id = ? AND currency = ?`),
  };
}

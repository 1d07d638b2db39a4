/**
 * The vendor poller's state on PostgreSQL, with the same meaning as on SQLite: cursor, request
 * budget, seen set, quarantine, lease, and the page commit.
 *
 * A page commits in one transaction that first locks the lease row and checks its holder (a
 * poller that lost the lease writes nothing), then locks the page's users in the same sorted
 * order as mutations, so service writes and vendor pages never deadlock. The domain's fold runs
 * in JavaScript against the accounts read under those locks.
 */
import type pg from "pg";
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
import type { WriteBatchObserver } from "../../store.js";
import { rangeCheckColumns, toReopenRequest, toVendorCursor, type CursorRow, type ReopenRow } from "../../rows.js";
import { unavailable } from "./errors.js";
import { inTransaction } from "./transaction.js";
import { accountKeyOf, appendEntries, lockUsers, readAccounts, type PendingEntry } from "./writes.js";

interface ExistingFact {
  user_id: string;
  currency: string;
  kind: string;
  amount: bigint;
  occurred_at_ms: bigint;
}

const isLeaseLost = (error: unknown): boolean => error instanceof LeaseLostError;

export class PostgresIngestStore implements IngestStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly writeObserver: WriteBatchObserver | undefined,
  ) {}

  loadCursor(initialClosedUntilMs: number): Promise<VendorCursor> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        "INSERT INTO vendor_cursor (id, closed_until_ms, updated_at_ms) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        [initialClosedUntilMs, Date.now()],
      );
      return readCursor(client);
    });
  }

  acquireLease(holderId: string, nowMs: number, ttlMs: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const result = await client.query(
        `
        UPDATE vendor_lease SET holder_id = $1, expires_at_ms = $3, updated_at_ms = $2
        WHERE id = 1 AND (holder_id = $1 OR holder_id = '' OR expires_at_ms <= $2)`,
        [holderId, nowMs, nowMs + ttlMs],
      );
      return (result.rowCount ?? 0) > 0;
    });
  }

  releaseLease(holderId: string): Promise<void> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        "UPDATE vendor_lease SET holder_id = '', expires_at_ms = 0, updated_at_ms = $2 WHERE id = 1 AND holder_id = $1",
        [holderId, Date.now()],
      );
    });
  }

  reserveRequest(nowMs: number, requestsMax: number, windowMs: number, inFlightUntilMs: number): Promise<Reservation> {
    return inTransaction(this.pool, async (client): Promise<Reservation> => {
      // The lease row doubles as the budget's mutex: every process counts and records under it.
      await client.query("SELECT holder_id FROM vendor_lease WHERE id = 1 FOR UPDATE");
      const since = nowMs - windowMs;
      const rows = await client.query<{ sent_at_ms: bigint }>(
        "SELECT sent_at_ms FROM vendor_requests WHERE sent_at_ms > $1 ORDER BY sent_at_ms LIMIT $2",
        [since, requestsMax],
      );
      if (rows.rows.length >= requestsMax) {
        const oldest = rows.rows[0]?.sent_at_ms ?? BigInt(nowMs);
        return { granted: false, retryAtMs: Number(oldest) + windowMs + 1 };
      }
      const inserted = await client.query<{ id: string }>(
        "INSERT INTO vendor_requests (sent_at_ms) VALUES ($1) RETURNING id::text AS id",
        [inFlightUntilMs],
      );
      await client.query("DELETE FROM vendor_requests WHERE sent_at_ms < $1", [since - windowMs]);
      return { granted: true, id: Number(inserted.rows[0]?.id) };
    });
  }

  async settleRequest(id: number, doneAtMs: number): Promise<void> {
    await this.pool.query("UPDATE vendor_requests SET sent_at_ms = $1 WHERE id = $2", [doneAtMs, id]);
  }

  async countRequestsSince(sinceMs: number): Promise<number> {
    return this.count("SELECT COUNT(*) AS count FROM vendor_requests WHERE sent_at_ms > $1", [sinceMs]);
  }

  startPass(cursor: VendorCursor, holderId: string): Promise<void> {
    return inTransaction(
      this.pool,
      async (client) => {
        await checkLease(client, holderId);
        await client.query("DELETE FROM vendor_pass_seen");
        await writeCursor(client, cursor, Date.now());
      },
      { passThrough: isLeaseLost },
    );
  }

  commitPage(page: PageCommit): Promise<PageOutcome> {
    return inTransaction(this.pool, (client) => commitPageIn(client, page, Date.now()), {
      passThrough: isLeaseLost,
      // A page is one unit of work, as it is in SQLite's group commit.
      onCommitted: (transactionMs, commitMs) => this.writeObserver?.batchCommitted(1, transactionMs, commitMs),
    });
  }

  async listQuarantine(limit = 10_000): Promise<QuarantineRow[]> {
    try {
      const result = await this.pool.query<{
        fingerprint: string;
        vendor_id: string | null;
        reason: string;
        detail: string;
        raw: string;
        seen_count: bigint;
        first_seen_at_ms: bigint;
      }>("SELECT * FROM vendor_quarantine ORDER BY first_seen_at_ms, fingerprint LIMIT $1", [limit]);
      return result.rows.map((row) => ({
        fingerprint: row.fingerprint,
        vendorId: row.vendor_id,
        reason: row.reason,
        detail: row.detail,
        raw: row.raw,
        seenCount: Number(row.seen_count),
        firstSeenAtMs: Number(row.first_seen_at_ms),
      }));
    } catch (error) {
      throw unavailable(error, "read");
    }
  }

  countQuarantine(): Promise<number> {
    return this.count("SELECT COUNT(*) AS count FROM vendor_quarantine", []);
  }

  async countHeldRows(
    startMs: number,
    endMs: number,
    createdAtOf: (raw: string) => number | undefined,
  ): Promise<number> {
    const entries = await this.count(
      "SELECT COUNT(*) AS count FROM entries WHERE external_id IS NOT NULL AND occurred_at_ms >= $1 AND occurred_at_ms < $2",
      [startMs, endMs],
    );
    let quarantined = 0;
    try {
      const result = await this.pool.query<{ raw: string }>("SELECT raw FROM vendor_quarantine");
      for (const row of result.rows) {
        const createdAtMs = createdAtOf(row.raw);
        if (createdAtMs !== undefined && createdAtMs >= startMs && createdAtMs < endMs) quarantined += 1;
      }
    } catch (error) {
      throw unavailable(error, "read");
    }
    return entries + quarantined;
  }

  async queueReopen(startMs: number, endMs: number, nowMs: number, kind: RangeRequestKind = "reopen"): Promise<number> {
    const rows = await this.query<{ id: bigint }>(
      `INSERT INTO vendor_reopen_requests (start_ms, end_ms, requested_at_ms, kind)
       VALUES ($1, $2, $3, $4) RETURNING id`,
      [startMs, endMs, nowMs, kind],
      "commit",
    );
    return Number(rows[0]?.id);
  }

  async nextReopen(): Promise<ReopenRequest | undefined> {
    const rows = await this.query<ReopenRow>(
      "SELECT * FROM vendor_reopen_requests WHERE done_at_ms IS NULL ORDER BY id LIMIT 1",
      [],
      "read",
    );
    return rows[0] === undefined ? undefined : toReopenRequest(rows[0]);
  }

  async finishReopen(id: number, nowMs: number, rowsRecovered: number, check?: RangeCheck): Promise<void> {
    await this.query(
      `UPDATE vendor_reopen_requests
       SET done_at_ms = $1, rows_recovered = $2, ranges_verified = $3, ranges_differing = $4, differences = $5
       WHERE id = $6 AND done_at_ms IS NULL`,
      [nowMs, rowsRecovered, ...rangeCheckColumns(check), id],
      "commit",
    );
  }

  async getReopen(id: number): Promise<ReopenRequest | undefined> {
    const rows = await this.query<ReopenRow>("SELECT * FROM vendor_reopen_requests WHERE id = $1", [id], "read");
    return rows[0] === undefined ? undefined : toReopenRequest(rows[0]);
  }

  async loadAcceptedOffsets(): Promise<AcceptedOffset[]> {
    const rows = await this.query<{ start_ms: string; end_ms: string; offset_rows: string }>(
      "SELECT start_ms, end_ms, offset_rows FROM vendor_reconcile_accepted ORDER BY start_ms",
      [],
      "read",
    );
    return rows.map((row) => ({
      startMs: Number(row.start_ms),
      endMs: Number(row.end_ms),
      offset: Number(row.offset_rows),
    }));
  }

  acceptOffset(accepted: AcceptedOffset): Promise<void> {
    const { startMs, endMs, offset } = accepted;
    return inTransaction(this.pool, async (client) => {
      // Replaced: the same range and ranges overlapping it partly; ranges inside it too when it
      // has no offset. Ranges around it stay (see AcceptedOffsets in src/ingest/accepted-offsets.ts).
      await client.query(
        `DELETE FROM vendor_reconcile_accepted
         WHERE start_ms < $2 AND end_ms > $1
           AND NOT (start_ms <= $1 AND end_ms >= $2 AND (start_ms < $1 OR end_ms > $2))
           AND NOT ($3::bigint <> 0 AND start_ms >= $1 AND end_ms <= $2 AND (start_ms > $1 OR end_ms < $2))`,
        [startMs, endMs, offset],
      );
      if (offset !== 0)
        await client.query(
          "INSERT INTO vendor_reconcile_accepted (start_ms, end_ms, offset_rows) VALUES ($1, $2, $3)",
          [startMs, endMs, offset],
        );
    });
  }

  private async query<Row extends object>(sql: string, values: unknown[], phase: "commit" | "read"): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(sql, values)).rows;
    } catch (error) {
      throw unavailable(error, phase);
    }
  }

  private async count(sql: string, values: unknown[]): Promise<number> {
    try {
      const result = await this.pool.query<{ count: bigint }>(sql, values);
      return Number(result.rows[0]?.count ?? 0n);
    } catch (error) {
      throw unavailable(error, "read");
    }
  }
}

async function checkLease(client: pg.PoolClient, holderId: string): Promise<void> {
  const result = await client.query<{ holder_id: string }>(
    "SELECT holder_id FROM vendor_lease WHERE id = 1 FOR UPDATE",
  );
  if (result.rows[0]?.holder_id !== holderId) throw new LeaseLostError(holderId);
}

type Counts = { applied: number; duplicates: number; quarantined: number; conflicts: number; overflows: number };

async function commitPageIn(client: pg.PoolClient, page: PageCommit, nowMs: number): Promise<PageOutcome> {
  await checkLease(client, page.holderId);
  const facts = page.rows.filter((row): row is Extract<CheckedRow, { type: "fact" }> => row.type === "fact");
  const users = await lockUsers(
    client,
    facts.map((row) => row.fact.userId),
  );
  // Entries take the time read under the users' locks, so that within an account recording
  // times follow entry ids, as for the service's own writes.
  const recordedAtMs = Date.now();
  const states = await readAccounts(client, users);
  const existing = await readExistingFacts(
    client,
    facts.map((row) => row.fact.externalId),
  );
  const counts: Counts = { applied: 0, duplicates: 0, quarantined: 0, conflicts: 0, overflows: 0 };
  const pending: PendingEntry[] = [];
  const quarantine: QuarantineRecord[] = [];
  let newest: number | null = null;
  for (const row of page.rows) {
    if (row.type === "bad") {
      quarantine.push(row.record);
      continue;
    }
    const { fact } = row;
    const before = existing.get(fact.externalId);
    if (before !== undefined) {
      const same =
        before.user_id === fact.userId &&
        before.currency === page.currency &&
        before.kind === fact.kind &&
        before.amount === fact.amountMinor &&
        Number(before.occurred_at_ms) === fact.occurredAtMs;
      if (same) {
        counts.duplicates += 1;
        continue;
      }
      counts.conflicts += 1;
      quarantine.push({
        fingerprint: row.fingerprint,
        vendorId: fact.externalId,
        reason: "conflict",
        raw: row.raw,
        detail:
          `vendor id ${fact.externalId} was already applied with different content ` +
          `(user ${before.user_id}, ${before.kind}, ${before.amount} minor units, at ${Number(before.occurred_at_ms)} ms)`,
      });
      continue;
    }
    const key = { userId: fact.userId, currency: page.currency };
    const folded = page.fold(states.get(accountKeyOf(key.userId, key.currency)), fact, recordedAtMs);
    if (folded === undefined) {
      counts.overflows += 1;
      quarantine.push({
        fingerprint: row.fingerprint,
        vendorId: fact.externalId,
        reason: "balance_overflow",
        raw: row.raw,
        detail: `applying ${fact.amountMinor} minor units would take a total of user ${fact.userId} outside int64`,
      });
      continue;
    }
    pending.push({
      key,
      draft: folded.draft,
      next: folded.next,
      meta: {
        idempotencyKey: null,
        externalId: fact.externalId,
        occurredAtMs: fact.occurredAtMs,
        createdAtMs: recordedAtMs,
      },
    });
    states.set(accountKeyOf(key.userId, key.currency), folded.next);
    // A second copy of the same vendor id later in this page is a duplicate or a conflict.
    existing.set(fact.externalId, {
      user_id: fact.userId,
      currency: page.currency,
      kind: fact.kind,
      amount: fact.amountMinor,
      occurred_at_ms: BigInt(fact.occurredAtMs),
    });
    counts.applied += 1;
    newest = Math.max(newest ?? fact.occurredAtMs, fact.occurredAtMs);
  }
  await appendEntries(client, pending);
  for (const record of quarantine) counts.quarantined += await recordQuarantine(client, record, nowMs);
  if (newest !== null) {
    await client.query(
      `UPDATE vendor_cursor SET newest_created_at_ms = GREATEST(COALESCE(newest_created_at_ms, $1), $1),
      updated_at_ms = $2 WHERE id = 1`,
      [newest, nowMs],
    );
  }
  let cursor: VendorCursor | undefined;
  if (page.closing !== undefined) {
    await client.query("INSERT INTO vendor_pass_seen (identity) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", [
      page.rows.map((row) => row.identity),
    ]);
    const distinct = await client.query<{ count: bigint }>("SELECT COUNT(*) AS count FROM vendor_pass_seen");
    cursor = page.closing(Number(distinct.rows[0]?.count ?? 0n));
    // A finished pass, or one started over without a count to hold on to, has seen nothing.
    if (cursor.pass === null || cursor.pass.totalItems === null) await client.query("DELETE FROM vendor_pass_seen");
    await writeCursor(client, cursor, nowMs);
    cursor = await readCursor(client);
  }
  return { ...counts, cursor };
}

async function readExistingFacts(
  client: pg.PoolClient,
  externalIds: readonly string[],
): Promise<Map<string, ExistingFact>> {
  const found = new Map<string, ExistingFact>();
  if (externalIds.length === 0) return found;
  const result = await client.query<ExistingFact & { external_id: string }>(
    "SELECT external_id, user_id, currency, kind, amount, occurred_at_ms FROM entries WHERE external_id = ANY($1::text[])",
    [externalIds],
  );
  for (const row of result.rows) found.set(row.external_id, row);
  return found;
}

/** Records a bad row; answers 1 when it is new and 0 when it was already there. */
async function recordQuarantine(client: pg.PoolClient, record: QuarantineRecord, nowMs: number): Promise<number> {
  const inserted = await client.query(
    `
    INSERT INTO vendor_quarantine (fingerprint, vendor_id, reason, detail, raw, seen_count, first_seen_at_ms, last_seen_at_ms)
    VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT (fingerprint) DO NOTHING`,
    [record.fingerprint, record.vendorId, record.reason, record.detail, record.raw, nowMs],
  );
  if ((inserted.rowCount ?? 0) > 0) return 1;
  await client.query(
    "UPDATE vendor_quarantine SET seen_count = seen_count + 1, last_seen_at_ms = $1 WHERE fingerprint = $2",
    [nowMs, record.fingerprint],
  );
  return 0;
}

async function readCursor(client: pg.PoolClient): Promise<VendorCursor> {
  const result = await client.query<CursorRow>("SELECT * FROM vendor_cursor WHERE id = 1");
  const row = result.rows[0];
  if (row === undefined) throw new Error("vendor_cursor has no row: loadCursor creates it first");
  return toVendorCursor(row);
}

async function writeCursor(client: pg.PoolClient, cursor: VendorCursor, nowMs: number): Promise<void> {
  const { pass } = cursor;
  await client.query(
    `
    UPDATE vendor_cursor SET closed_until_ms = $1, pass_start_ms = $2, pass_end_ms = $3, pass_next_page = $4,
      pass_total_items = $5, pass_dirty = $6, pass_attempts = $7, updated_at_ms = $8
    WHERE id = 1`,
    [
      cursor.closedUntilMs,
      pass?.startMs ?? null,
      pass?.endMs ?? null,
      pass?.nextPage ?? null,
      pass?.totalItems ?? null,
      pass?.dirty === true ? 1 : 0,
      pass?.attempts ?? 0,
      nowMs,
    ],
  );
}

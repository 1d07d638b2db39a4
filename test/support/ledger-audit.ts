/**
 * Reads a ledger database directly, read-only, beside a running (or crashed) service: the
 * entries by idempotency key and the `verifyLedger` audit, so tests judge the database itself
 * and not what the service says about it. Works on a SQLite file and on a PostgreSQL URL.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { verifyLedger, type VerifyReport } from "../../src/domain/verify.js";
import { isPostgresUrl } from "../../src/store/open.js";
import { BIGINT_TYPES } from "../../src/store/postgres/index.js";
import { toAccount, toEntry, type AccountRow, type EntryRow } from "../../src/store/rows.js";
import type { Account, Entry } from "../../src/store/store.js";

export interface LedgerSnapshot {
  readonly report: VerifyReport;
  /** Entries with an idempotency key, by `${userId} ${key}`. */
  readonly entriesByKey: Map<string, Entry>;
  /** Balance per `${userId} ${currency}`, as the accounts table holds it. */
  readonly balances: Map<string, bigint>;
  /** Every entry, in id order. */
  readonly entries: readonly Entry[];
}

export function keyOf(userId: string, idempotencyKey: string): string {
  return `${userId} ${idempotencyKey}`;
}

/** One read transaction over the whole database: entries, accounts and the audit at one instant. */
export async function auditLedger(database: string): Promise<LedgerSnapshot> {
  const { entries, accounts, batches } = isPostgresUrl(database) ? await readPostgres(database) : readSqlite(database);
  const entriesByKey = new Map<string, Entry>();
  for (const entry of entries) {
    if (entry.idempotencyKey === null) continue;
    const key = keyOf(entry.userId, entry.idempotencyKey);
    if (entriesByKey.has(key)) throw new Error(`idempotency key ${key} recorded twice`);
    entriesByKey.set(key, entry);
  }
  const balances = new Map(accounts.map((account) => [`${account.userId} ${account.currency}`, account.balance]));
  return { report: verifyLedger(entries, accounts, batches), entriesByKey, balances, entries };
}

interface Rows {
  readonly entries: Entry[];
  readonly accounts: Account[];
  /** The leg count of every batch, by group id. */
  readonly batches: Map<bigint, bigint>;
}

type BatchRow = { group_id: bigint; leg_count: bigint };
const legCounts = (rows: BatchRow[]) => new Map(rows.map((row) => [row.group_id, row.leg_count]));

function readSqlite(dbPath: string): Rows {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    db.pragma("busy_timeout = 5000");
    return db.transaction(() => ({
      entries: (db.prepare("SELECT * FROM entries ORDER BY id").all() as EntryRow[]).map(toEntry),
      accounts: (db.prepare("SELECT * FROM accounts ORDER BY user_id, currency").all() as AccountRow[]).map(toAccount),
      batches: legCounts(db.prepare("SELECT group_id, leg_count FROM entry_batches").all() as BatchRow[]),
    }))();
  } finally {
    db.close();
  }
}

async function readPostgres(url: string): Promise<Rows> {
  const client = new pg.Client({
    connectionString: url,
    types: BIGINT_TYPES,
  });
  await client.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const entries = (await client.query<EntryRow>("SELECT * FROM entries ORDER BY id")).rows.map(toEntry);
    const accounts = (await client.query<AccountRow>("SELECT * FROM accounts ORDER BY user_id, currency")).rows.map(
      toAccount,
    );
    const batches = legCounts((await client.query<BatchRow>("SELECT group_id, leg_count FROM entry_batches")).rows);
    await client.query("COMMIT");
    return { entries, accounts, batches };
  } finally {
    await client.end();
  }
}

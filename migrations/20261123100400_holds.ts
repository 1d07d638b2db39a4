/**
 * Holds: a manual-capture authorization reserves an amount that later captures debit and a void
 * or the expiry releases. Every change is an entry (kinds hold, hold_capture, hold_void,
 * hold_expire) carrying the hold's id and what it changed the held amount by, so `held` on the
 * account is the fold of `held_delta` like the balance is the fold of `delta`. The `holds` table
 * is the write path's index of each hold's state (amount, captured, status, expiry), updated in
 * the same transaction as the entry that changes it.
 *
 * The entries' kind CHECK must accept the new kinds. PostgreSQL swaps the constraint; SQLite
 * cannot alter a CHECK, so it rebuilds the table (copying every row with its id, the AUTOINCREMENT
 * sequence, the indexes and the append-only triggers): a one-off cost proportional to the ledger.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

const KINDS = `'load', 'authorize', 'adjust', 'vendor_earned', 'vendor_spent', 'vendor_payout',
  'vendor_paid_out', 'hold', 'hold_capture', 'hold_void', 'hold_expire'`;

const OLD_KINDS = `'load', 'authorize', 'adjust', 'vendor_earned', 'vendor_spent', 'vendor_payout',
  'vendor_paid_out'`;

const ENTRY_COLUMNS = `id, user_id, currency, kind, status, amount, delta, balance_after, idempotency_key,
  external_id, occurred_at_ms, created_at_ms, group_id`;

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`ALTER TABLE accounts ADD COLUMN held ${integer} NOT NULL DEFAULT 0`);
  if (isPostgres(knex)) {
    await knex.raw(`ALTER TABLE entries DROP CONSTRAINT entries_kind_check`);
    await knex.raw(`ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN (${KINDS}))`);
    await knex.raw(`ALTER TABLE entries ADD COLUMN hold_id BIGINT`);
    await knex.raw(`ALTER TABLE entries ADD COLUMN held_delta BIGINT NOT NULL DEFAULT 0`);
    await knex.raw(`ALTER TABLE entries ADD COLUMN held_after BIGINT NOT NULL DEFAULT 0`);
  } else {
    await rebuildSqliteEntries(knex, KINDS, true);
  }
  await knex.raw(`CREATE INDEX entries_hold ON entries (hold_id) WHERE hold_id IS NOT NULL`);
  await knex.raw(`
    CREATE TABLE holds (
      hold_id ${integer} PRIMARY KEY,
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      amount ${integer} NOT NULL CHECK (amount > 0),
      captured ${integer} NOT NULL CHECK (captured >= 0),
      status TEXT NOT NULL CHECK (status IN ('active', 'captured', 'voided', 'expired')),
      expires_at_ms ${integer} NOT NULL,
      created_at_ms ${integer} NOT NULL,
      updated_at_ms ${integer} NOT NULL
    )`);
  // The sweeper reads the active holds in expiry order; released ones leave the index.
  await knex.raw(`CREATE INDEX holds_active_expiry ON holds (expires_at_ms, hold_id) WHERE status = 'active'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE holds");
  await knex.raw("DROP INDEX entries_hold");
  if (isPostgres(knex)) {
    await knex.raw(`ALTER TABLE entries DROP COLUMN held_after`);
    await knex.raw(`ALTER TABLE entries DROP COLUMN held_delta`);
    await knex.raw(`ALTER TABLE entries DROP COLUMN hold_id`);
    await knex.raw(`ALTER TABLE entries DROP CONSTRAINT entries_kind_check`);
    await knex.raw(`ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN (${OLD_KINDS}))`);
  } else {
    await rebuildSqliteEntries(knex, OLD_KINDS, false);
  }
  await knex.raw("ALTER TABLE accounts DROP COLUMN held");
}

/** Recreates SQLite's entries table with these kinds, with or without the hold columns. */
async function rebuildSqliteEntries(knex: Knex, kinds: string, withHolds: boolean): Promise<void> {
  const holdColumns = withHolds
    ? `, hold_id INTEGER, held_delta INTEGER NOT NULL DEFAULT 0, held_after INTEGER NOT NULL DEFAULT 0`
    : "";
  await knex.raw(`
    CREATE TABLE entries_rebuilt (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN (${kinds})),
      status TEXT NOT NULL CHECK (status IN ('applied', 'declined')),
      amount INTEGER NOT NULL,
      delta INTEGER NOT NULL,
      balance_after INTEGER NOT NULL,
      idempotency_key TEXT,
      external_id TEXT,
      occurred_at_ms INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      group_id INTEGER${holdColumns}
    )`);
  await knex.raw(`INSERT INTO entries_rebuilt (${ENTRY_COLUMNS}) SELECT ${ENTRY_COLUMNS} FROM entries ORDER BY id`);
  // Ids are never reused: the new table continues from the old sequence, not from its highest row.
  await knex.raw(`DELETE FROM sqlite_sequence WHERE name = 'entries_rebuilt'`);
  await knex.raw(`
    INSERT INTO sqlite_sequence (name, seq) SELECT 'entries_rebuilt', seq FROM sqlite_sequence WHERE name = 'entries'`);
  await knex.raw(`DROP TABLE entries`);
  await knex.raw(`ALTER TABLE entries_rebuilt RENAME TO entries`);
  await knex.raw(`CREATE INDEX entries_account ON entries (user_id, currency, id)`);
  await knex.raw(`
    CREATE UNIQUE INDEX entries_idempotency ON entries (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL`);
  await knex.raw(`CREATE UNIQUE INDEX entries_external ON entries (external_id) WHERE external_id IS NOT NULL`);
  await knex.raw(`CREATE INDEX entries_user ON entries (user_id, id)`);
  await knex.raw(`CREATE INDEX entries_account_time ON entries (user_id, currency, created_at_ms, id)`);
  await knex.raw(`CREATE INDEX entries_group ON entries (group_id) WHERE group_id IS NOT NULL`);
  await knex.raw(`
    CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END`);
  await knex.raw(`
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END`);
}

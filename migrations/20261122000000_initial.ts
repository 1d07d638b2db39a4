/**
 * The ledger's first schema: accounts (a cache of each account's position) and entries (the
 * append-only log every balance is the sum of).
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  if (isPostgres(knex)) return upPostgres(knex);
  // WITHOUT ROWID: accounts are always found by (user_id, currency), so the key is the table.
  await knex.raw(`
    CREATE TABLE accounts (
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      balance INTEGER NOT NULL,
      earned INTEGER NOT NULL,
      spent INTEGER NOT NULL,
      payout_requested INTEGER NOT NULL,
      paid_out INTEGER NOT NULL,
      loaded INTEGER NOT NULL,
      authorized INTEGER NOT NULL,
      declined_count INTEGER NOT NULL,
      entry_count INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      updated_at_ms INTEGER NOT NULL,
      PRIMARY KEY (user_id, currency)
    ) WITHOUT ROWID`);
  // Finance lists outstanding payouts across all users: a partial index keeps that list cheap
  // however many accounts have none.
  await knex.raw(`
    CREATE INDEX accounts_outstanding_payouts ON accounts (user_id, currency)
    WHERE payout_requested > paid_out`);

  // AUTOINCREMENT: entry ids are never reused, even after the newest entries are lost to a
  // restore, so an id a client holds always means the same entry.
  await knex.raw(`
    CREATE TABLE entries (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('load', 'authorize', 'adjust', 'vendor_earned',
        'vendor_spent', 'vendor_payout', 'vendor_paid_out')),
      status TEXT NOT NULL CHECK (status IN ('applied', 'declined')),
      amount INTEGER NOT NULL,
      delta INTEGER NOT NULL,
      balance_after INTEGER NOT NULL,
      idempotency_key TEXT,
      external_id TEXT,
      occurred_at_ms INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL
    )`);
  await knex.raw(`CREATE INDEX entries_account ON entries (user_id, currency, id)`);
  await knex.raw(`
    CREATE UNIQUE INDEX entries_idempotency ON entries (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL`);
  await knex.raw(`
    CREATE UNIQUE INDEX entries_external ON entries (external_id)
    WHERE external_id IS NOT NULL`);
  // Event sourcing only holds if history cannot be rewritten: refuse it in the database itself.
  await knex.raw(`
    CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END`);
  await knex.raw(`
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE entries");
  await knex.raw("DROP TABLE accounts");
  if (isPostgres(knex)) {
    await knex.raw("DROP TABLE ledger_users");
    await knex.raw("DROP SEQUENCE entries_id_seq");
    await knex.raw("DROP FUNCTION entries_append_only");
  }
}

/**
 * The same schema on PostgreSQL. Money and instants are BIGINT (int64, read as bigint). Entry
 * ids come from a plain sequence that the store draws from before inserting a batch, so it knows
 * each entry's id without relying on the order of RETURNING rows. `ledger_users` holds one row
 * per user for the store to lock: idempotency keys are scoped per user, so holding a user's row
 * makes "look the key up, decide, append" atomic across processes.
 */
async function upPostgres(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE accounts (
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      balance BIGINT NOT NULL,
      earned BIGINT NOT NULL,
      spent BIGINT NOT NULL,
      payout_requested BIGINT NOT NULL,
      paid_out BIGINT NOT NULL,
      loaded BIGINT NOT NULL,
      authorized BIGINT NOT NULL,
      declined_count BIGINT NOT NULL,
      entry_count BIGINT NOT NULL,
      created_at_ms BIGINT NOT NULL,
      updated_at_ms BIGINT NOT NULL,
      PRIMARY KEY (user_id, currency)
    )`);
  await knex.raw(`
    CREATE INDEX accounts_outstanding_payouts ON accounts (user_id, currency)
    WHERE payout_requested > paid_out`);
  await knex.raw(`CREATE TABLE ledger_users (user_id TEXT PRIMARY KEY)`);
  await knex.raw(`CREATE SEQUENCE entries_id_seq`);
  await knex.raw(`
    CREATE TABLE entries (
      id BIGINT PRIMARY KEY DEFAULT nextval('entries_id_seq'),
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('load', 'authorize', 'adjust', 'vendor_earned',
        'vendor_spent', 'vendor_payout', 'vendor_paid_out')),
      status TEXT NOT NULL CHECK (status IN ('applied', 'declined')),
      amount BIGINT NOT NULL,
      delta BIGINT NOT NULL,
      balance_after BIGINT NOT NULL,
      idempotency_key TEXT,
      external_id TEXT,
      occurred_at_ms BIGINT NOT NULL,
      created_at_ms BIGINT NOT NULL
    )`);
  await knex.raw(`CREATE INDEX entries_account ON entries (user_id, currency, id)`);
  await knex.raw(`
    CREATE UNIQUE INDEX entries_idempotency ON entries (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL`);
  await knex.raw(`
    CREATE UNIQUE INDEX entries_external ON entries (external_id)
    WHERE external_id IS NOT NULL`);
  // History cannot be rewritten here either: updates, deletes and truncation are refused.
  await knex.raw(`
    CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'entries are append-only'; END $$`);
  await knex.raw(`
    CREATE TRIGGER entries_no_update_or_delete BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_append_only()`);
  await knex.raw(`
    CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION entries_append_only()`);
}

/**
 * The ledger's first schema: accounts (a cache of each account's position) and entries (the
 * append-only log every balance is the sum of).
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
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
}

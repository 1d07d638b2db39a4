/**
 * Balances as of an instant: the last entry an account recorded at or before it is one seek in
 * (user_id, currency, created_at_ms, id), and that entry's balance_after is the balance then.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX entries_account_time ON entries (user_id, currency, created_at_ms, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX entries_account_time");
}

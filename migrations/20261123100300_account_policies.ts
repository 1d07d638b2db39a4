/**
 * Account policies: per user and currency, an overdraft limit and a state (active, frozen,
 * closed) that the write path enforces. An account without a row has the default policy
 * (limit 0, active), so existing ledgers behave as before.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`
    CREATE TABLE account_policies (
      user_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      overdraft_limit ${integer} NOT NULL CHECK (overdraft_limit >= 0),
      state TEXT NOT NULL CHECK (state IN ('active', 'frozen', 'closed')),
      updated_at_ms ${integer} NOT NULL,
      PRIMARY KEY (user_id, currency)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE account_policies");
}

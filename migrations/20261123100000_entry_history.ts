/**
 * History reads: a user's entries across currencies in id order. `entries_account` serves one
 * currency (user_id, currency, id); without this index, listing every currency of a user would
 * sort all of that user's entries for each page.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX entries_user ON entries (user_id, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX entries_user");
}

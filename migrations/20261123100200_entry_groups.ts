/**
 * Entry groups: the entries one atomic multi-account mutation appends (a transfer's two legs)
 * carry the id of the group's first entry, so a reader or a replay finds every leg from any one.
 * NULL for entries written alone. Adding a nullable column rewrites nothing on either database.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`ALTER TABLE entries ADD COLUMN group_id ${integer}`);
  await knex.raw(`CREATE INDEX entries_group ON entries (group_id) WHERE group_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX entries_group");
  await knex.raw("ALTER TABLE entries DROP COLUMN group_id");
}

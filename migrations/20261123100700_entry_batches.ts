/**
 * Entry batches: one row per group that ApplyBatch appended, keyed by the group id, holding the
 * canonical digest of the batch's items and how many legs it recorded. A keyed retry compares
 * its items' digest with the stored one, and `verify` tells a batch's group (held to its leg
 * count) from a transfer's (whose legs must sum to zero). Written in the same transaction as the
 * group's entries and, like them, append-only.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`
    CREATE TABLE entry_batches (
      group_id ${integer} PRIMARY KEY,
      digest TEXT NOT NULL,
      leg_count ${integer} NOT NULL CHECK (leg_count > 0)
    )`);
  if (isPostgres(knex)) {
    await knex.raw(`
      CREATE FUNCTION entry_batches_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'entry_batches are append-only'; END $$`);
    await knex.raw(`
      CREATE TRIGGER entry_batches_no_update_or_delete BEFORE UPDATE OR DELETE ON entry_batches
      FOR EACH ROW EXECUTE FUNCTION entry_batches_append_only()`);
    await knex.raw(`
      CREATE TRIGGER entry_batches_no_truncate BEFORE TRUNCATE ON entry_batches
      FOR EACH STATEMENT EXECUTE FUNCTION entry_batches_append_only()`);
    return;
  }
  await knex.raw(`
    CREATE TRIGGER entry_batches_no_update BEFORE UPDATE ON entry_batches
    BEGIN SELECT RAISE(ABORT, 'entry_batches are append-only'); END`);
  await knex.raw(`
    CREATE TRIGGER entry_batches_no_delete BEFORE DELETE ON entry_batches
    BEGIN SELECT RAISE(ABORT, 'entry_batches are append-only'); END`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE entry_batches");
  if (isPostgres(knex)) await knex.raw("DROP FUNCTION entry_batches_append_only()");
}

/**
 * Entry batches: one row per group that ApplyBatch appended, keyed by the group id, holding the
 * canonical digest of the batch's items and how many legs it recorded. A keyed retry compares
 * its items' digest with the stored one, and a batch's group is told from a transfer's (whose
 * legs must sum to zero). Written in the same transaction as the group's entries.
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
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE entry_batches");
}

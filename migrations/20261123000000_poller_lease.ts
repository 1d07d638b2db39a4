/**
 * The vendor poller's lease: one row naming the poller allowed to write vendor state, until when.
 * Two pollers on one database (several service processes, or `npm run ingest` beside the
 * service) each kept the cursor in memory and overwrote the other's; with the lease, one polls
 * and the others wait to take over when it dies. The row exists from the start (holder '' means
 * free), so every transaction can lock or check it without creating it.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`
    CREATE TABLE vendor_lease (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      holder_id TEXT NOT NULL,
      expires_at_ms ${integer} NOT NULL,
      updated_at_ms ${integer} NOT NULL
    )`);
  await knex.raw(`INSERT INTO vendor_lease (id, holder_id, expires_at_ms, updated_at_ms) VALUES (1, '', 0, 0)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE vendor_lease");
}

/**
 * Two things for vendor reconciliation. An index on the vendor entries' createdAt: every count
 * check (`countHeldRows`) counts the entries of a time range, and without it each one scanned the
 * whole entries table. Partial, like `entries_group`, because only vendor rows have an
 * external id and only they are counted.
 *
 * And `vendor_reopen_requests`: `npm run ingest -- --reopen FROM TO` run beside the service
 * cannot take the poller lease, so it queues the range here; the lease holder reads it within a
 * cycle, within the shared budget, and marks it done with the rows it recovered.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX entries_vendor_occurred_at ON entries (occurred_at_ms) WHERE external_id IS NOT NULL`);
  const postgres = isPostgres(knex);
  const integer = postgres ? "BIGINT" : "INTEGER";
  await knex.raw(`
    CREATE TABLE vendor_reopen_requests (
      id ${postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"},
      start_ms ${integer} NOT NULL,
      end_ms ${integer} NOT NULL CHECK (end_ms > start_ms),
      requested_at_ms ${integer} NOT NULL,
      done_at_ms ${integer},
      rows_recovered ${integer}
    )`);
  await knex.raw(`CREATE INDEX vendor_reopen_requests_queued ON vendor_reopen_requests (id) WHERE done_at_ms IS NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE vendor_reopen_requests");
  await knex.raw("DROP INDEX entries_vendor_occurred_at");
}

/**
 * Two things for vendor reconciliation beside the running service.
 *
 * `vendor_reopen_requests` gains a `kind`: `npm run ingest -- --reconcile FROM TO` beside the
 * service cannot take the poller lease either, so it queues a count check the same way a reopen
 * is queued; the lease holder runs it in its idle time and writes what it found (ranges equal to
 * the vendor's count, ranges that differ, and the windows that differ with both counts, as JSON).
 *
 * And `vendor_reconcile_accepted`: the count differences a re-read could not remove (a row whose
 * createdAt cannot be placed), per range, so a restarted poller does not narrow down to each of
 * them again before accepting it once more.
 */
import type { Knex } from "knex";
import { isPostgres } from "./dialect.js";

export async function up(knex: Knex): Promise<void> {
  const integer = isPostgres(knex) ? "BIGINT" : "INTEGER";
  await knex.raw(`
    ALTER TABLE vendor_reopen_requests
      ADD COLUMN kind TEXT NOT NULL DEFAULT 'reopen' CHECK (kind IN ('reopen', 'reconcile'))`);
  await knex.raw(`ALTER TABLE vendor_reopen_requests ADD COLUMN ranges_verified ${integer}`);
  await knex.raw(`ALTER TABLE vendor_reopen_requests ADD COLUMN ranges_differing ${integer}`);
  await knex.raw(`ALTER TABLE vendor_reopen_requests ADD COLUMN differences TEXT`);
  await knex.raw(`
    CREATE TABLE vendor_reconcile_accepted (
      start_ms ${integer} NOT NULL,
      end_ms ${integer} NOT NULL CHECK (end_ms > start_ms),
      offset_rows ${integer} NOT NULL CHECK (offset_rows <> 0),
      PRIMARY KEY (start_ms, end_ms)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE vendor_reconcile_accepted");
  for (const column of ["differences", "ranges_differing", "ranges_verified", "kind"]) {
    await knex.raw(`ALTER TABLE vendor_reopen_requests DROP COLUMN ${column}`);
  }
}

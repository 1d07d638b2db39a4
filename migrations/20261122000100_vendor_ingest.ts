/**
 * The vendor poller's state: where it has read up to, the requests it has spent against the
 * vendor's rate limit, the identities seen by the current closing pass, and the rows it refused.
 * Everything the poller needs to resume after a kill lives here, next to the entries it writes,
 * so that one transaction can move both.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  // One row: the poller reads one vendor. `closed_until_ms` is the instant before which every
  // window has had a complete, verified read; the pass_* columns describe the closing pass in
  // progress, so a restart resumes at its next page instead of starting over.
  await knex.raw(`
    CREATE TABLE vendor_cursor (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      closed_until_ms INTEGER NOT NULL,
      pass_start_ms INTEGER,
      pass_end_ms INTEGER,
      pass_next_page INTEGER,
      pass_total_items INTEGER,
      pass_dirty INTEGER NOT NULL DEFAULT 0,
      pass_attempts INTEGER NOT NULL DEFAULT 0,
      newest_created_at_ms INTEGER,
      updated_at_ms INTEGER NOT NULL
    )`);
  // The request log of the sliding-window budget. A row is committed before its request is
  // sent, so a request the process made just before a kill is still counted after the restart.
  await knex.raw(`CREATE TABLE vendor_requests (id INTEGER PRIMARY KEY, sent_at_ms INTEGER NOT NULL)`);
  await knex.raw(`CREATE INDEX vendor_requests_sent_at ON vendor_requests (sent_at_ms)`);
  // Identities of the rows the current closing pass has read: their count, against the
  // vendor's totalItems, proves that no row slipped between two pages.
  await knex.raw(`CREATE TABLE vendor_pass_seen (identity TEXT PRIMARY KEY) WITHOUT ROWID`);
  // Rows that could not be applied, with the raw JSON as the vendor sent it. Keyed by a hash
  // of that text, so re-reading a window does not record the same bad row twice.
  await knex.raw(`
    CREATE TABLE vendor_quarantine (
      fingerprint TEXT PRIMARY KEY,
      vendor_id TEXT,
      reason TEXT NOT NULL,
      detail TEXT NOT NULL,
      raw TEXT NOT NULL,
      seen_count INTEGER NOT NULL,
      first_seen_at_ms INTEGER NOT NULL,
      last_seen_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID`);
  await knex.raw(`CREATE INDEX vendor_quarantine_vendor_id ON vendor_quarantine (vendor_id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE vendor_quarantine");
  await knex.raw("DROP TABLE vendor_pass_seen");
  await knex.raw("DROP TABLE vendor_requests");
  await knex.raw("DROP TABLE vendor_cursor");
}

/**
 * Reconciliation counts the vendor entries of a time range on every check (`countHeldRows`);
 * these tests make sure both stores answer that count from the `entries_vendor_occurred_at`
 * index (migration 20261123100500), not by scanning every entry.
 */
import Database from "better-sqlite3";
import { expect } from "chai";
import pg from "pg";
import { migrateToLatest } from "../../src/store/migrate.js";
import { databaseFor } from "../support/stores.js";
import { makeTempDir } from "./ingest-helpers.js";

// The statement both stores run for countHeldRows (placeholders aside).
const COUNT_HELD_SQLITE =
  "SELECT COUNT(*) AS count FROM entries WHERE external_id IS NOT NULL AND occurred_at_ms >= ? AND occurred_at_ms < ?";
const COUNT_HELD_POSTGRES =
  "SELECT COUNT(*) AS count FROM entries WHERE external_id IS NOT NULL AND occurred_at_ms >= $1 AND occurred_at_ms < $2";

describe("ingest integration: the held-rows count uses its index", function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir();
  });

  afterEach(() => {
    temp.remove();
  });

  it("on sqlite: the query plan searches entries_vendor_occurred_at", async () => {
    const filename = await databaseFor("sqlite", temp.dir);
    await migrateToLatest({ dialect: "sqlite", filename });
    const db = new Database(filename, { readonly: true });
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${COUNT_HELD_SQLITE}`).all(0, 1) as { detail: string }[];
      const details = plan.map((row) => row.detail).join("\n");
      expect(details).to.match(
        /SEARCH entries USING (COVERING )?INDEX entries_vendor_occurred_at \(occurred_at_ms>\? AND occurred_at_ms<\?\)/,
      );
      expect(details).not.to.match(/SCAN entries/);
    } finally {
      db.close();
    }
  });

  it("on postgres: the planner can answer it from entries_vendor_occurred_at", async () => {
    const url = await databaseFor("postgres", temp.dir);
    await migrateToLatest({ dialect: "postgres", connection: { connectionString: url } });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // An empty table is cheapest to scan, so the planner would pick a scan whatever the
      // indexes; turned off, the plan shows whether the index can serve this query at all.
      await client.query("SET enable_seqscan = off");
      const plan = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${COUNT_HELD_POSTGRES}`, [0, 1]);
      const text = plan.rows.map((row) => row["QUERY PLAN"]).join("\n");
      expect(text).to.match(
        /Index Only Scan using entries_vendor_occurred_at on entries|Bitmap Index Scan on entries_vendor_occurred_at/,
      );
    } finally {
      await client.end();
    }
  });
});

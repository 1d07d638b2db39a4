/**
 * The schema on PostgreSQL: several processes starting at once on an empty database migrate it
 * exactly once (knex's migration lock; the others wait and find it current), and the result is
 * the schema the store needs. Before knex's own tables were created up front, this test hung or
 * failed about one run in three (two lock rows, or "type knex_migrations already exists").
 */
import { expect } from "chai";
import pg from "pg";
import { migrateToLatest } from "../../src/store/migrate.js";
import { createDatabase } from "../support/postgres-server.js";

describe("migrations on PostgreSQL", function () {
  this.timeout(60_000);

  it("run once when six processes start together on an empty database", async () => {
    const adminUrl = process.env.LEDGER_TEST_POSTGRES_ADMIN_URL;
    if (adminUrl === undefined) throw new Error("the tests' PostgreSQL is not running");
    // Not from the migrated template: empty, as a new deployment's database is.
    const url = await createDatabase(adminUrl);
    const applied = await Promise.all(
      Array.from({ length: 6 }, () => migrateToLatest({ dialect: "postgres", connection: { connectionString: url } })),
    );
    const all = applied.flat().sort();
    expect(all).to.deep.equal([
      "20261122000000_initial",
      "20261122000100_vendor_ingest",
      "20261123000000_poller_lease",
      "20261123100000_entry_history",
      "20261123100100_entry_as_of",
      "20261123100200_entry_groups",
      "20261123100300_account_policies",
      "20261123100400_holds",
      "20261123100500_ingest_held_index_and_reopen",
      "20261123100700_entry_batches",
      "20261123100800_ingest_range_checks",
    ]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      expect(tables.rows.map((row) => row.table_name)).to.include.members([
        "accounts",
        "entries",
        "ledger_users",
        "vendor_cursor",
        "vendor_lease",
        "vendor_pass_seen",
        "vendor_quarantine",
        "vendor_requests",
      ]);
      const money = await client.query<{ data_type: string }>(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'entries' AND column_name IN ('amount', 'delta', 'balance_after')",
      );
      expect(new Set(money.rows.map((row) => row.data_type))).to.deep.equal(new Set(["bigint"]));
      // One lock row, unlocked: with two, knex's lock could never be taken again.
      const lock = await client.query<{ is_locked: number }>("SELECT is_locked FROM knex_migrations_lock");
      expect(lock.rows).to.deep.equal([{ is_locked: 0 }]);
    } finally {
      await client.end();
    }
  });
});

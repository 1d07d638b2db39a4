/**
 * Reconciliation counts the vendor entries of a time range on every check (`countHeldRows`);
 * these tests make sure both stores answer that count from the `entries_vendor_occurred_at`
 * index (migration 20261123100500), not by scanning every entry.
 */
import Database from "better-sqlite3";
import { expect } from "chai";
import pg from "pg";
import { foldVendorFact } from "../../src/domain/vendor-fact.js";
import { parseExactJson } from "../../src/ingest/exact-json.js";
import { checkVendorRow, createdAtOfRaw } from "../../src/ingest/vendor-row.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";
import { makeTempDir, openStore } from "./ingest-helpers.js";

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

const HOUR_MS = 3_600_000;

for (const kind of STORE_KINDS)
  describe(`ingest integration: held-rows counts over long ranges, on ${kind}`, function () {
    this.timeout(60_000);

    it("counts ranges of several days exactly, across every slice boundary, and lets other work run meanwhile", async () => {
      const temp = makeTempDir();
      const store = await openStore(kind, temp.dir);
      try {
        // One row every 20 minutes for three days, plus one bad row placed by its raw createdAt.
        const startMs = Date.UTC(2026, 10, 1);
        const createdAts = Array.from({ length: 3 * 72 }, (_, index) => startMs + index * 20 * 60_000);
        const raws = createdAts.map(
          (atMs, index) =>
            `{"id":"r${index}","userId":"u${index % 7}","type":"earned","amount":1.5,"createdAt":"${new Date(atMs).toISOString()}"}`,
        );
        const badAtMs = startMs + 30 * HOUR_MS + 1;
        raws.push(
          `{"id":"bad","userId":"u1","type":"earned","amount":0,"createdAt":"${new Date(badAtMs).toISOString()}"}`,
        );
        const rows = raws.map((raw) => checkVendorRow(parseExactJson(raw), raw, 2));
        expect(await store.ingest.acquireLease("test", Date.now(), 60_000)).to.equal(true);
        await store.ingest.commitPage({ holderId: "test", rows, currency: "EUR", fold: foldVendorFact });

        const expected = (fromMs: number, toMs: number) =>
          [...createdAts, badAtMs].filter((atMs) => atMs >= fromMs && atMs < toMs).length;
        const ranges = [
          [startMs, startMs + 72 * HOUR_MS],
          [startMs + 5 * HOUR_MS + 1, startMs + 61 * HOUR_MS - 1],
          [startMs + 6 * HOUR_MS, startMs + 12 * HOUR_MS],
          [startMs + 29 * HOUR_MS, startMs + 31 * HOUR_MS],
          [startMs - 10 * HOUR_MS, startMs + 100 * HOUR_MS],
        ] as const;
        for (const [fromMs, toMs] of ranges) {
          expect(await store.ingest.countHeldRows(fromMs, toMs, createdAtOfRaw)).to.equal(expected(fromMs, toMs));
        }
        // A count over days is taken in slices with turns of the event loop between them (the
        // SQLite count runs on the thread that answers calls); PostgreSQL's runs on the server.
        let turns = 0;
        let counted = false;
        const turn = () => {
          turns += 1;
          if (!counted) setImmediate(turn);
        };
        setImmediate(turn);
        const counting = store.ingest.countHeldRows(
          startMs - 30 * 24 * HOUR_MS,
          startMs + 72 * HOUR_MS,
          createdAtOfRaw,
        );
        await counting;
        counted = true;
        expect(await counting).to.equal(expected(startMs, startMs + 72 * HOUR_MS));
        if (kind === "sqlite") expect(turns).to.be.greaterThan(0);
      } finally {
        await store.close();
        temp.remove();
      }
    });
  });

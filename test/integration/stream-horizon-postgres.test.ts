/**
 * The PostgreSQL stream horizon against the interleaving that makes "id > cursor" polling skip
 * an entry: a transaction draws id n and stays open while another, which took its transaction id
 * first, draws n+1 and commits. The horizon must stay below n+1 until the first transaction ends
 * (a rule based on the snapshot's in-progress list alone lets n+1 through here: the open
 * transaction's id is above every finished one, so the list leaves it out).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import pg from "pg";
import { readConfig, storeOptions } from "../../src/config.js";
import { openStore } from "../../src/store/open.js";
import type { LedgerStore } from "../../src/store/store.js";
import { databaseFor } from "../support/stores.js";

const INSERT_ENTRY = `
  INSERT INTO entries (id, user_id, currency, kind, status, amount, delta, balance_after,
    occurred_at_ms, created_at_ms)
  VALUES ($1, $2, 'USD', 'load', 'applied', 1, 1, 1, 0, 0)`;

describe("PostgreSQL stream horizon", function () {
  this.timeout(60_000);
  let dir: string;
  let store: LedgerStore;
  let url: string;
  const clients: pg.Client[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-horizon-"));
    url = await databaseFor("postgres", dir);
    store = await openStore(storeOptions(readConfig({ LEDGER_DB: url, LEDGER_STREAM_POLL_INTERVAL_MS: "20" })));
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    clients.push(client);
    return client;
  }

  /** The horizon once it passes `afterId`, or as it stands after `waitMs`. */
  function horizonAfter(afterId: bigint, waitMs: number): Promise<bigint> {
    return store.feed.waitPast(afterId, AbortSignal.timeout(waitMs));
  }

  it("holds the horizon below an entry until every lower id's transaction has ended", async () => {
    const first = await connect();
    const second = await connect();
    // `first` takes its transaction id first; `second` takes a later one but draws the lower entry id.
    await first.query("BEGIN");
    await first.query("SELECT pg_current_xact_id()");
    await second.query("BEGIN");
    await second.query("SELECT pg_current_xact_id()");
    const lower = BigInt(
      (await second.query<{ id: string }>("SELECT nextval('entries_id_seq')::text AS id")).rows[0]!.id,
    );
    const higher = BigInt(
      (await first.query<{ id: string }>("SELECT nextval('entries_id_seq')::text AS id")).rows[0]!.id,
    );
    expect(higher).to.equal(lower + 1n);
    await first.query(INSERT_ENTRY, [String(higher), "ann"]);
    await first.query("COMMIT");

    // The higher entry is visible and `second` is still open: the horizon must not reach it.
    expect(await store.feed.latestId()).to.equal(higher);
    const heldAt = await horizonAfter(lower - 1n, 400);
    expect(heldAt < lower, `horizon ${heldAt} reached the open transaction's id ${lower}`).to.equal(true);
    const pageWhileOpen = await store.scanEntries({ afterId: 0n, throughId: store.feed.horizonId, limit: 10 });
    expect(pageWhileOpen.map((entry) => entry.id)).to.deep.equal([]);

    await second.query(INSERT_ENTRY, [String(lower), "bob"]);
    await second.query("COMMIT");
    expect(await horizonAfter(lower, 5000)).to.equal(higher);
    const page = await store.scanEntries({ afterId: 0n, throughId: store.feed.horizonId, limit: 10 });
    expect(page.map((entry) => entry.id)).to.deep.equal([lower, higher]);
  });

  it("moves past an id whose transaction rolled back", async () => {
    const writer = await connect();
    await writer.query("BEGIN");
    await writer.query("SELECT pg_current_xact_id()");
    const burned = BigInt(
      (await writer.query<{ id: string }>("SELECT nextval('entries_id_seq')::text AS id")).rows[0]!.id,
    );
    await writer.query("ROLLBACK");
    await writer.query("BEGIN");
    await writer.query("SELECT pg_current_xact_id()");
    const kept = BigInt(
      (await writer.query<{ id: string }>("SELECT nextval('entries_id_seq')::text AS id")).rows[0]!.id,
    );
    await writer.query(INSERT_ENTRY, [String(kept), "ann"]);
    await writer.query("COMMIT");
    expect(await horizonAfter(burned, 5000)).to.equal(kept);
    expect(await store.feed.currentHorizon()).to.equal(kept);
  });
});

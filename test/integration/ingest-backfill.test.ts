import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { runVendorBackfill } from "../../src/ingest/poller.js";
import { foldVendorFact } from "../../src/domain/vendor-fact.js";
import { LeaseLostError } from "../../src/store/ingest-port.js";
import type { LedgerStore } from "../../src/store/store.js";
import { STORE_KINDS } from "../support/stores.js";
import { compareTotals, fakeTotals, makeTempDir, openStore, silentLogger } from "./ingest-helpers.js";

// The vendor's 5 requests a minute, scaled: 20 requests a second keeps the suite fast while
// making the budget bind (the backfill needs far more requests than one window allows).
const REQUESTS_PER_WINDOW = 20;
const RATE_WINDOW_MS = 1000;

for (const kind of STORE_KINDS)
  describe(`ingest integration: backfill against the fake vendor with faults, on ${kind}`, function () {
    this.timeout(120_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;
    let nowMs: number;
    let startMs: number;

    before(async () => {
      // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
      nowMs = Date.now();
      startMs = Math.floor((nowMs - 40 * 60_000) / 1000) * 1000;
      temp = makeTempDir();
      vendor = await startFakeVendor({
        data: {
          seed: 7,
          txPerMinute: 1000,
          users: 300,
          startMs,
          endMs: nowMs - 10 * 60_000,
          badRowRate: 0.002,
          lateRate: 0.02,
          lateMaxMs: 5000,
        },
        faults: {
          serverErrorRate: 0.04,
          spurious429Rate: 0.04,
          slowRate: 0.02,
          slowMs: 1500,
          dropRate: 0.03,
          truncateRate: 0.03,
          shiftRate: 0.04,
        },
        requestsPerWindow: REQUESTS_PER_WINDOW,
        rateWindowMs: RATE_WINDOW_MS,
        pageSizeMax: 1000,
        host: "127.0.0.1",
        port: 0,
      });
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("ends with every user's totals equal to the fake's, within budget, with exactly the bad rows quarantined", async () => {
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(REQUESTS_PER_WINDOW),
        LEDGER_VENDOR_BUDGET_WINDOW_MS: String(RATE_WINDOW_MS),
        LEDGER_VENDOR_PAGE_SIZE: "500",
        LEDGER_VENDOR_BACKFILL_WINDOW_MS: "600000",
        LEDGER_VENDOR_TIMEOUT_MS: "500",
        LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
        LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
      });
      if (config === undefined) throw new Error("no config");
      const status = await runVendorBackfill({ store, config, logger: silentLogger });
      const expected = await fakeTotals(vendor.url);
      const stats = vendor.stats();

      expect(expected.validCount).to.be.greaterThan(25_000);
      expect(await compareTotals(store, expected, "EUR")).to.deep.equal([]);
      // The fake saw faults, yet never had to refuse us for exceeding its limit.
      expect(stats.faults["5xx"] ?? 0).to.be.greaterThan(0);
      expect(stats.faults["shift"] ?? 0).to.be.greaterThan(0);
      expect(stats.rateLimited).to.equal(0);
      expect(stats.maxRequestsInWindow).to.be.at.most(REQUESTS_PER_WINDOW);
      expect(stats.requests).to.be.greaterThan(REQUESTS_PER_WINDOW * 3);
      const quarantine = await store.ingest.listQuarantine();
      expect(quarantine.map((row) => row.raw).sort()).to.deep.equal([...expected.badRows].sort());
      expect(status.rowsIngested).to.equal(expected.validCount);
      expect(status.retries).to.be.greaterThan(0);
      expect(status.windowsClosedUnverified).to.equal(0);
    });

    it("applies nothing twice when an applied page is read and committed again", async () => {
      const before = await fakeTotals(vendor.url);
      const { fetchPage } = await import("../../src/ingest/vendor-client.js");
      const { checkVendorRow } = await import("../../src/ingest/vendor-row.js");
      let outcome;
      do {
        outcome = await fetchPage(
          { baseUrl: vendor.url, startMs, endMs: nowMs, page: 1, limit: 1000, timeoutMs: 2000 },
          new AbortController().signal,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      } while (!outcome.ok);
      const { items } = outcome.page;
      const rows = items.items.map((item, index) => checkVendorRow(item, items.sources[index] ?? "", 2));
      const facts = rows.filter((row) => row.type === "fact").length;
      expect(await store.ingest.acquireLease("test", Date.now(), 60_000)).to.equal(true);
      const result = await store.ingest.commitPage({ holderId: "test", rows, currency: "EUR", fold: foldVendorFact });
      expect(facts).to.be.greaterThan(900);
      expect(result).to.include({ applied: 0, duplicates: facts, quarantined: 0, conflicts: 0 });
      expect(await compareTotals(store, before, "EUR")).to.deep.equal([]);
    });
  });

for (const kind of STORE_KINDS)
  describe(`ingest integration: conflicts, overflow and the lease at apply time, on ${kind}`, () => {
    let temp: ReturnType<typeof makeTempDir>;
    let vendor: FakeVendor;
    let store: LedgerStore;

    before(async () => {
      temp = makeTempDir();
      store = await openStore(kind, temp.dir);
    });
    after(async () => {
      await store.close();
      temp.remove();
    });

    it("quarantines the same vendor id with different content and a fact that would overflow int64", async () => {
      const { checkVendorRow } = await import("../../src/ingest/vendor-row.js");
      const { parseExactJson } = await import("../../src/ingest/exact-json.js");
      const rowOf = (json: string) => checkVendorRow(parseExactJson(json), json, 2);
      const vendorStore = store.ingest;
      expect(await vendorStore.acquireLease("test", Date.now(), 60_000)).to.equal(true);
      const first = `{"id":"t1","userId":"007","createdAt":"2023-03-15T12:33:11.000Z","type":"earned","amount":1.2}`;
      const sameAgain = `{"id":"t1","userId":"007","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1.20}`;
      const changed = `{"id":"t1","userId":"007","createdAt":"2023-03-15T12:33:11.000Z","type":"earned","amount":9}`;
      const big = `{"id":"t2","userId":"007","createdAt":"2023-03-15T12:33:12.000Z","type":"earned","amount":92233720368547758.07}`;
      const spend = `{"id":"t3","userId":"007","createdAt":"2023-03-15T12:33:13.000Z","type":"spent","amount":5}`;
      const outcome = await vendorStore.commitPage({
        holderId: "test",
        rows: [first, sameAgain, changed, big, spend].map(rowOf),
        currency: "EUR",
        fold: foldVendorFact,
      });
      expect(outcome).to.include({ applied: 2, duplicates: 1, conflicts: 1, overflows: 1, quarantined: 2 });
      const [account] = await store.getAccounts("007", "EUR");
      // Facts are recorded even below zero: 1.20 earned, 5.00 spent.
      expect(account).to.include({ balance: -380n, earned: 120n, spent: 500n });
      const reasons = (await vendorStore.listQuarantine()).map((row) => row.reason).sort();
      expect(reasons).to.deep.equal(["balance_overflow", "conflict"]);
      // The same conflict read again is not recorded twice.
      const repeat = await vendorStore.commitPage({
        holderId: "test",
        rows: [changed].map(rowOf),
        currency: "EUR",
        fold: foldVendorFact,
      });
      expect(repeat).to.include({ conflicts: 1, quarantined: 0 });
      expect(await vendorStore.countQuarantine()).to.equal(2);
    });

    it("refuses, writing nothing, a page or a pass from a poller that does not hold the lease", async () => {
      const { checkVendorRow } = await import("../../src/ingest/vendor-row.js");
      const { parseExactJson } = await import("../../src/ingest/exact-json.js");
      const json = `{"id":"lease-1","userId":"lease-user","createdAt":"2023-03-15T12:33:11.000Z","type":"earned","amount":3}`;
      const nowMs = Date.now();
      // "test" holds the lease from the test above; "other" cannot take it before it expires...
      expect(await store.ingest.acquireLease("test", nowMs, 1000)).to.equal(true);
      expect(await store.ingest.acquireLease("other", nowMs + 999, 1000)).to.equal(false);
      let refused: unknown;
      try {
        await store.ingest.commitPage({
          holderId: "other",
          rows: [checkVendorRow(parseExactJson(json), json, 2)],
          currency: "EUR",
          fold: foldVendorFact,
        });
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(LeaseLostError);
      expect(await store.getAccounts("lease-user")).to.deep.equal([]);
      // ...then takes it over once it has expired, and the old holder is fenced off.
      expect(await store.ingest.acquireLease("other", nowMs + 1000, 1000)).to.equal(true);
      const cursor = await store.ingest.loadCursor(Date.now() - 120_000);
      let fenced: unknown;
      await store.ingest.startPass(cursor, "test").catch((error: unknown) => (fenced = error));
      expect(fenced).to.be.instanceOf(LeaseLostError);
      await store.ingest.releaseLease("other");
      expect(await store.ingest.acquireLease("test", nowMs, 1000)).to.equal(true);
      await store.ingest.releaseLease("test");
    });

    it("serves an empty vendor without error", async () => {
      vendor = await startFakeVendor({
        data: {
          seed: 1,
          txPerMinute: 1,
          users: 1,
          startMs: Date.now() + 3_600_000,
          badRowRate: 0,
          lateRate: 0,
          lateMaxMs: 0,
        },
        faults: NO_FAULTS,
        requestsPerWindow: 0,
        rateWindowMs: 1000,
        pageSizeMax: 1000,
        host: "127.0.0.1",
        port: 0,
      });
      try {
        const config = readVendorConfig({
          LEDGER_VENDOR_URL: vendor.url,
          LEDGER_VENDOR_START: new Date(Date.now() - 120_000).toISOString(),
          LEDGER_VENDOR_REQUESTS_PER_MINUTE: "1000",
        });
        if (config === undefined) throw new Error("no config");
        const status = await runVendorBackfill({ store, config, logger: silentLogger });
        expect(status).to.include({ rowsIngested: 0, retries: 0, lastError: null });
        expect(status.closedUntil).to.not.equal(null);
      } finally {
        await vendor.close();
      }
    });
  });

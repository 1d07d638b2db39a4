/**
 * Two vendor pollers on one database at once (two service processes, or `npm run ingest` beside
 * the service), each with its own connection: exactly one is active at a time through the lease,
 * the other takes over when the first dies (loses its database), and the ledger ends exactly
 * equal to the vendor's totals. Before the lease, two pollers lost about a third of the rows (issue 9, item 2).
 */
import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { startVendorPoller, type VendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";
import { compareTotals, fakeTotals, makeTempDir, openStoreAt, silentLogger } from "./ingest-helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of STORE_KINDS)
  describe(`ingest integration: two pollers on one ${kind} database`, function () {
    this.timeout(120_000);
    let vendor: FakeVendor;
    let temp: ReturnType<typeof makeTempDir>;
    const stores: LedgerStore[] = [];
    const pollers: VendorPoller[] = [];
    let nowMs: number;
    let startMs: number;

    before(async () => {
      // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
      nowMs = Date.now();
      startMs = Math.floor((nowMs - 30 * 60_000) / 1000) * 1000;
      temp = makeTempDir();
      vendor = await startFakeVendor({
        data: {
          seed: 5,
          txPerMinute: 300,
          users: 80,
          startMs,
          endMs: nowMs - 5 * 60_000,
          badRowRate: 0.003,
          lateRate: 0.02,
          lateMaxMs: 5000,
        },
        faults: { ...NO_FAULTS, serverErrorRate: 0.03, shiftRate: 0.03 },
        requestsPerWindow: 60,
        rateWindowMs: 1000,
        pageSizeMax: 1000,
        host: "127.0.0.1",
        port: 0,
      });
      const database = await databaseFor(kind, temp.dir);
      stores.push(await openStoreAt(kind, database), await openStoreAt(kind, database));
    });

    after(async () => {
      for (const poller of pollers) await poller.stop();
      for (const store of stores) await store.close();
      await vendor.close();
      temp.remove();
    });

    it("keeps one poller active, takes over when it dies, and ends exactly at the vendor's totals", async () => {
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: "60",
        LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
        LEDGER_VENDOR_PAGE_SIZE: "100",
        LEDGER_VENDOR_BACKFILL_WINDOW_MS: "120000",
        LEDGER_VENDOR_POLL_INTERVAL_MS: "200",
        LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
        LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
        LEDGER_VENDOR_LEASE_TTL_MS: "600",
      });
      if (config === undefined) throw new Error("no config");
      const expected = await fakeTotals(vendor.url);
      for (const [index, store] of stores.entries()) {
        pollers.push(startVendorPoller({ store, config, logger: silentLogger, holderId: `poller-${index}` }));
      }
      const active = () =>
        pollers.filter((poller) => !["standby", "starting", "stopped"].includes(poller.status().state));
      let sawBothActive = false;
      // Let the first active poller ingest part of the backlog, then cut it off from the database,
      // as if its process died: it can neither renew its lease nor write, and the other takes over
      // once the lease expires.
      while (pollers.every((poller) => poller.status().rowsIngested < expected.validCount / 3)) {
        if (active().length > 1) sawBothActive = true;
        await sleep(20);
      }
      const firstIndex = pollers.findIndex((poller) => poller.status().rowsIngested > 0);
      const first = pollers[firstIndex];
      const second = pollers[1 - firstIndex];
      const survivor = stores[1 - firstIndex];
      if (first === undefined || second === undefined || survivor === undefined) throw new Error("no active poller");
      await stores[firstIndex]?.close();
      const deadlineMs = Date.now() + 90_000;
      let problems = await compareTotals(survivor, expected, "EUR");
      while (problems.length > 0 && Date.now() < deadlineMs) {
        await sleep(200);
        problems = await compareTotals(survivor, expected, "EUR");
      }
      expect(problems).to.deep.equal([]);
      expect(sawBothActive, "both pollers were active at once").to.equal(false);
      expect(first.status().rowsIngested).to.be.greaterThan(0);
      expect(second.status().rowsIngested).to.be.greaterThan(0);
      expect(first.status().rowsIngested + second.status().rowsIngested).to.equal(expected.validCount);
      const quarantine = await survivor.ingest.listQuarantine();
      expect(quarantine.map((row) => row.raw).sort()).to.deep.equal([...expected.badRows].sort());
      expect(vendor.stats().rateLimited).to.equal(0);
    });
  });

import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { runVendorRangeTask, startVendorPoller, type VendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import {
  compareTotals,
  fakeTotals,
  makeTempDir,
  openStore,
  silentLogger,
  VERY_LATE,
  waitUntilClosed,
} from "./ingest-helpers.js";

const BUDGET_PER_SECOND = 30;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of STORE_KINDS)
  describe(`ingest integration: rows appearing long after their window closed, on ${kind}`, function () {
    this.timeout(90_000);
    let temp: ReturnType<typeof makeTempDir>;
    let vendor: FakeVendor;
    let store: LedgerStore;
    let endMs: number;
    let vendorConfig: NonNullable<ReturnType<typeof readVendorConfig>>;

    const start = async (seed: number) => {
      const startMs = Math.floor((Date.now() - 30_000) / 1000) * 1000;
      endMs = Math.floor((Date.now() + 1000) / 1000) * 1000;
      vendor = await startFakeVendor({
        data: {
          ...{ seed, txPerMinute: 3000, users: 60, startMs, endMs, badRowRate: 0.003, lateRate: 0, lateMaxMs: 0 },
          ...VERY_LATE,
        },
        faults: NO_FAULTS,
        requestsPerWindow: BUDGET_PER_SECOND,
        rateWindowMs: 1000,
        pageSizeMax: 1000,
        host: "127.0.0.1",
        port: 0,
      });
      store = await openStore(kind, temp.dir);
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(BUDGET_PER_SECOND),
        LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
        LEDGER_VENDOR_LATENESS_MS: "500",
        LEDGER_VENDOR_WINDOW_MS: "1000",
        LEDGER_VENDOR_POLL_INTERVAL_MS: "200",
        LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
        LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
        ...(seed === 32 ? { LEDGER_VENDOR_RECONCILE_HORIZON_MS: "0" } : {}),
      });
      if (config === undefined) throw new Error("no config");
      vendorConfig = config;
      return startVendorPoller({ store, config, logger: silentLogger });
    };

    /** Rows of the stream that appeared after their window had closed. */
    const veryLateRows = () => {
      let count = 0;
      for (let index = 0; index < vendor.data.indexAt(endMs); index += 1) {
        const row = vendor.data.get(index);
        if (row.fact !== null && row.visibleAtMs - row.createdAtMs >= VERY_LATE.veryLateMinMs) count += 1;
      }
      return count;
    };

    beforeEach(() => {
      temp = makeTempDir();
    });

    afterEach(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("recovers every row that appeared hours late exactly once, within the budget", async () => {
      const poller: VendorPoller = await start(31);
      let problems: string[] = ["not compared yet"];
      try {
        // Every window is closed, and the ledger holds every row visible so far.
        await waitUntilClosed(() => poller.status(), endMs);
        expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR")).to.deep.equal([]);
        // The hours pass: every very late row appears, each in a window closed long ago.
        vendor.advanceClock(VERY_LATE.veryLateMaxMs);
        for (let attempt = 0; attempt < 120 && problems.length > 0; attempt += 1) {
          await sleep(250);
          problems = await compareTotals(store, await fakeTotals(vendor.url), "EUR");
        }
      } finally {
        await poller.stop();
      }
      expect(problems).to.deep.equal([]);
      const status = poller.status();
      const late = veryLateRows();
      expect(late).to.be.greaterThan(20);
      // Only reconciliation reads a closed window again; fresh reads start past what they read.
      expect(status.rowsRecovered).to.equal(late);
      expect(status.rangesDiffering).to.be.greaterThan(0);
      expect(status.rangesVerified).to.be.greaterThan(0);
      const stats = vendor.stats();
      expect(stats.rateLimited).to.equal(0);
      expect(stats.maxRequestsInWindow).to.be.at.most(BUDGET_PER_SECOND);
    });

    it("without reconciliation, the same fault loses rows for good (the control)", async () => {
      const poller = await start(32);
      try {
        await waitUntilClosed(() => poller.status(), endMs);
        vendor.advanceClock(VERY_LATE.veryLateMaxMs);
        // The poller goes on following; with no reconciliation, nothing reads a closed window again.
        await sleep(2000);
      } finally {
        await poller.stop();
      }
      const problems = await compareTotals(store, await fakeTotals(vendor.url), "EUR");
      expect(problems.length).to.be.greaterThan(0);
      expect(poller.status().rowsRecovered).to.equal(0);

      // The operator's controls repair it: --reconcile finds the windows, --reopen reads them again.
      const range = { startMs: vendorConfig.startMs, endMs };
      const options = { store, config: vendorConfig, logger: silentLogger };
      const found = await runVendorRangeTask(options, { type: "reconcile", ...range });
      expect(found.differences.length).to.be.greaterThan(0);
      const missing = found.differences.reduce((sum, window) => sum + window.vendorCount - window.heldCount, 0);
      expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR"), "reconcile writes nothing").to.deep.equal(
        problems,
      );
      const reopened = await runVendorRangeTask(options, { type: "reopen", ...range });
      expect(reopened.status.rowsRecovered).to.equal(missing);
      expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR")).to.deep.equal([]);
      const again = await runVendorRangeTask(options, { type: "reconcile", ...range });
      expect(again.differences).to.deep.equal([]);
      expect(again.status.rangesDiffering).to.equal(0);
      const twice = await runVendorRangeTask(options, { type: "reopen", ...range });
      expect(twice.status.rowsRecovered).to.equal(0);
    });

    it("runs an operator's task only through the lease: beside an active poller it does nothing", async () => {
      const poller = await start(33);
      try {
        await sleep(500);
        const config = { ...vendorConfig, leaseTtlMs: 300 };
        const result = await runVendorRangeTask(
          { store, config, logger: silentLogger },
          { type: "reopen", startMs: vendorConfig.startMs, endMs },
        );
        expect(result.status.lastError).to.equal("another poller holds the vendor lease on this database");
        expect(result.status.requestsUsed).to.equal(0);
      } finally {
        await poller.stop();
      }
    });
  });

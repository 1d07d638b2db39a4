import { expect } from "chai";
import { NO_FAULTS, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { startVendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import { STORE_KINDS } from "../support/stores.js";
import {
  fastVendorConfig,
  heldVendorIds,
  makeTempDir,
  openStore,
  silentLogger,
  startFastVendor,
  vendorIdsBefore,
} from "./ingest-helpers.js";

/** How long the minute of history may take to backfill before the test gives up. */
const BACKFILL_MAX_MS = 20_000;

for (const kind of STORE_KINDS)
  describe(`ingest integration: backfill, then follow the present with late arrivals, on ${kind}`, function () {
    this.timeout(60_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;
    let startMs: number;

    before(async () => {
      // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
      startMs = Math.floor((Date.now() - 60_000) / 1000) * 1000;
      temp = makeTempDir();
      // Rows keep arriving in real time; one in five shows up to 1.5 s after its createdAt.
      vendor = await startFastVendor(
        { seed: 21, txPerMinute: 3000, users: 100, startMs, badRowRate: 0.002, lateRate: 0.2, lateMaxMs: 1500 },
        { ...NO_FAULTS, serverErrorRate: 0.05, shiftRate: 0.05 },
      );
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("stays fresh, and every row older than the closed cursor is in the ledger exactly once", async () => {
      const config = fastVendorConfig(vendor, startMs, { LEDGER_VENDOR_LATENESS_MS: "2000" });
      const poller = startVendorPoller({ store, config, logger: silentLogger });
      const lags: number[] = [];
      try {
        // The backfill takes as long as the machine needs (a slow CI machine took more than 3 s on
        // PostgreSQL), within a bound; from then on the poller must keep following.
        const backfillDeadlineMs = Date.now() + BACKFILL_MAX_MS;
        while (poller.status().state !== "following") {
          expect(Date.now(), "still backfilling").to.be.below(backfillDeadlineMs);
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        for (let tick = 0; tick < 20; tick += 1) {
          await new Promise((resolve) => setTimeout(resolve, 150));
          const status = poller.status();
          expect(status.state).to.equal("following");
          if (status.lagMs !== null) lags.push(status.lagMs);
        }
      } finally {
        await poller.stop();
      }
      const status = poller.status();
      expect(status.state).to.equal("stopped");
      // Fresh reads every 200 ms of whole seconds: the newest row is never more than ~2.5 s old.
      expect(Math.max(...lags)).to.be.below(2500);
      const closedUntilMs = Date.parse(status.closedUntil ?? "");
      expect(closedUntilMs).to.be.greaterThan(startMs + 60_000);

      const ingested = new Set(await heldVendorIds(store));
      const expected = vendorIdsBefore(vendor, closedUntilMs);
      for (const id of expected) expect(ingested.has(id), `row ${id} missing`).to.equal(true);
      let lateBeforeCursor = 0;
      for (let index = 0; index < vendor.data.indexAt(closedUntilMs); index += 1) {
        const row = vendor.data.get(index);
        if (row.fact !== null && row.visibleAtMs > row.createdAtMs) lateBeforeCursor += 1;
      }
      const allValid = vendorIdsBefore(vendor, Date.now());
      expect(lateBeforeCursor).to.be.greaterThan(50);
      expect(expected.size).to.be.greaterThan(3000);
      for (const id of ingested) expect(allValid.has(id), `unknown id ${id}`).to.equal(true);
      expect(vendor.stats().rateLimited).to.equal(0);
    });
  });

/**
 * A bad row whose createdAt cannot be read is counted by the vendor in its window but cannot be
 * placed by the ledger, so that window's counts differ for good. The closing pass that verified
 * the window knows this already; reconciliation must not spend the budget bisecting down to it,
 * nor after a restart (the store keeps what was accepted).
 */
import { expect } from "chai";
import { startVendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import type { FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import { fastVendorConfig, makeTempDir, openStore, silentLogger, startFastVendor } from "./ingest-helpers.js";

for (const kind of STORE_KINDS)
  describe(`ingest integration: windows holding a row the ledger cannot place, on ${kind}`, function () {
    this.timeout(90_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;

    before(async () => {
      temp = makeTempDir();
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("are accepted when they close, so reconciliation verifies them instead of re-reading", async () => {
      const startMs = Math.floor(Date.now() / 1000) * 1000;
      // 20% bad rows, one kind in eleven with createdAt "yesterday": about one such row a second.
      vendor = await startFastVendor({
        ...{ seed: 61, txPerMinute: 3000, users: 30, startMs },
        ...{ badRowRate: 0.2, lateRate: 0, lateMaxMs: 0 },
      });
      const config = fastVendorConfig(vendor, startMs, { LEDGER_VENDOR_LATENESS_MS: "500" });
      const poller = startVendorPoller({ store, config, logger: silentLogger });
      const unplaceableBefore = (closedUntil: string | null) => {
        let count = 0;
        for (let index = 0; index < vendor.data.indexAt(Date.parse(closedUntil ?? "")); index += 1)
          if (vendor.data.get(index).json.includes('"createdAt":"yesterday"')) count += 1;
        return count;
      };
      // At least 8 s, then until a range is verified with two such rows behind the closed cursor
      // (45 s at most): a loaded machine slows the poller, so the test waits for the behaviour.
      await new Promise((resolve) => setTimeout(resolve, 8000));
      const deadline = Date.now() + 45_000;
      const ready = () => poller.status().rangesVerified > 0 && unplaceableBefore(poller.status().closedUntil) >= 2;
      while (!ready() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      await poller.stop();
      const status = poller.status();
      const unplaceable = unplaceableBefore(status.closedUntil);
      expect(unplaceable, "the stream holds rows the ledger cannot place").to.be.at.least(2);
      expect(status.rangesVerified).to.be.greaterThan(0);
      expect(status.rangesDiffering).to.equal(0);
      expect(status.requestsByPurpose.reconcileRead).to.equal(0);

      // A restart: the store kept what was accepted, so the successor's rounds verify those
      // windows too, instead of narrowing down to each and reading it again.
      const successor = startVendorPoller({ store, config, logger: silentLogger });
      const verifiedBy = Date.now() + 45_000;
      while (successor.status().rangesVerified < 2 && Date.now() < verifiedBy)
        await new Promise((resolve) => setTimeout(resolve, 250));
      await successor.stop();
      const after = successor.status();
      expect(after.rangesVerified).to.be.at.least(2);
      expect(after.rangesDiffering).to.equal(0);
      expect(after.requestsByPurpose.reconcileRead).to.equal(0);
    });
  });

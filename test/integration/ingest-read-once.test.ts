import { expect } from "chai";
import { startVendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import type { FakeVendor } from "../../tools/fake-vendor/server.js";
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

for (const kind of STORE_KINDS)
  describe(`ingest integration: each row read once when the fresh reads saw it all, on ${kind}`, function () {
    this.timeout(90_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;
    let startMs: number;

    before(async () => {
      // Now, not when mocha loaded the file: minutes of history to read first made this test slow.
      startMs = Math.floor(Date.now() / 1000) * 1000;
      temp = makeTempDir();
      // No late rows: every window the fresh reads covered is complete when it closes.
      vendor = await startFastVendor({
        ...{ seed: 41, txPerMinute: 3000, users: 50, startMs },
        ...{ badRowRate: 0.005, lateRate: 0, lateMaxMs: 0 },
      });
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("closes windows on the vendor's count alone, and still holds every row before the cursor exactly once", async () => {
      const config = fastVendorConfig(vendor, startMs, {
        LEDGER_VENDOR_LATENESS_MS: "500",
        // 50 rows a second in pages of 20: reading a closed window again would take 3 requests,
        // its count takes one, so the poller counts instead of reading.
        LEDGER_VENDOR_PAGE_SIZE: "20",
        LEDGER_VENDOR_RECONCILE_HORIZON_MS: "0",
      });
      const poller = startVendorPoller({ store, config, logger: silentLogger });
      // Until a window has closed on its count and the closed cursor is 2 s in, or 45 s: a loaded
      // machine slows the poller, so the test waits for the behaviour, not for a fixed time.
      const closedEnough = () => {
        const { windowsClosedByCount, closedUntil } = poller.status();
        return windowsClosedByCount > 0 && Date.parse(closedUntil ?? "") >= startMs + 2000;
      };
      const deadline = Date.now() + 45_000;
      while (!closedEnough() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      await poller.stop();
      const status = poller.status();
      expect(status.windowsClosedByCount).to.be.greaterThan(0);
      const closedUntilMs = Date.parse(status.closedUntil ?? "");
      expect(closedUntilMs).to.be.at.least(startMs + 2000);
      const expected = vendorIdsBefore(vendor, closedUntilMs);
      const held = await heldVendorIds(store, closedUntilMs);
      expect(held.length).to.equal(new Set(held).size);
      expect(new Set(held)).to.deep.equal(expected);
    });
  });

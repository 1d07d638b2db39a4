import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { startVendorPoller } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import { makeTempDir, openStore, silentLogger } from "./ingest-helpers.js";

for (const kind of STORE_KINDS)
  describe(`ingest integration: each row read once when the fresh reads saw it all, on ${kind}`, function () {
    this.timeout(60_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;
    const startMs = Math.floor(Date.now() / 1000) * 1000;

    before(async () => {
      temp = makeTempDir();
      // No late rows: every window the fresh reads covered is complete when it closes.
      vendor = await startFakeVendor({
        data: { seed: 41, txPerMinute: 3000, users: 50, startMs, badRowRate: 0.005, lateRate: 0, lateMaxMs: 0 },
        faults: NO_FAULTS,
        requestsPerWindow: 30,
        rateWindowMs: 1000,
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

    it("closes windows on the vendor's count alone, and still holds every row before the cursor exactly once", async () => {
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: "30",
        LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
        LEDGER_VENDOR_LATENESS_MS: "500",
        LEDGER_VENDOR_WINDOW_MS: "1000",
        // 50 rows a second in pages of 20: reading a closed window again would take 3 requests,
        // its count takes one, so the poller counts instead of reading.
        LEDGER_VENDOR_PAGE_SIZE: "20",
        LEDGER_VENDOR_POLL_INTERVAL_MS: "200",
        LEDGER_VENDOR_RECONCILE_HORIZON_MS: "0",
      });
      if (config === undefined) throw new Error("no config");
      const poller = startVendorPoller({ store, config, logger: silentLogger });
      await new Promise((resolve) => setTimeout(resolve, 5000));
      await poller.stop();
      const status = poller.status();
      expect(status.windowsClosedByCount).to.be.greaterThan(0);
      const closedUntilMs = Date.parse(status.closedUntil ?? "");
      expect(closedUntilMs).to.be.at.least(startMs + 2000);
      const expected = new Set<string>();
      for (let index = 0; index < vendor.data.indexAt(closedUntilMs); index += 1) {
        const row = vendor.data.get(index);
        if (row.fact !== null) expected.add((JSON.parse(row.json) as { id: string }).id);
      }
      const held = await store.withSnapshot((entries) => {
        const ids: string[] = [];
        for (const entry of entries)
          if (entry.externalId !== null && entry.occurredAtMs < closedUntilMs) ids.push(entry.externalId);
        return ids;
      });
      expect(held.length).to.equal(new Set(held).size);
      expect(new Set(held)).to.deep.equal(expected);
    });
  });

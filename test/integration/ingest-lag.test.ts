/**
 * lagMs is how far behind the vendor's present the ingested data is: now minus the end of the
 * last complete read. A vendor with no new rows, fully read, is not "lagging" by the age of its
 * newest row; that age has its own field.
 */
import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor } from "../../tools/fake-vendor/server.js";
import { runVendorBackfill } from "../../src/ingest/poller.js";
import { makeTempDir, openStore, silentLogger } from "./ingest-helpers.js";

describe("ingest: lag means lag", () => {
  it("is small once caught up with a vendor whose last row is ten minutes old; newestCreatedAt says ten minutes", async () => {
    const temp = makeTempDir();
    const store = await openStore("sqlite", temp.dir);
    const nowMs = Date.now();
    const vendor = await startFakeVendor({
      data: {
        seed: 3,
        txPerMinute: 60,
        users: 5,
        startMs: nowMs - 20 * 60_000,
        endMs: nowMs - 10 * 60_000,
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
        LEDGER_VENDOR_START: new Date(nowMs - 20 * 60_000).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: "1000",
      });
      if (config === undefined) throw new Error("no config");
      const status = await runVendorBackfill({ store, config, logger: silentLogger });
      expect(status.rowsIngested).to.be.greaterThan(500);
      expect(status.lagMs).to.be.a("number").and.to.be.below(5000);
      expect(status.readUpTo).to.be.a("string");
      expect(Date.now() - Date.parse(status.newestCreatedAt ?? "")).to.be.above(9 * 60_000);
    } finally {
      await vendor.close();
      await store.close();
      temp.remove();
    }
  });
});

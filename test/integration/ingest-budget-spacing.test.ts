import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { runVendorBackfill } from "../../src/ingest/poller.js";
import type { IngestStore } from "../../src/store/ingest-port.js";
import type { LedgerStore } from "../../src/store/store.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import { compareTotals, fakeTotals, makeTempDir, openStore, silentLogger } from "./ingest-helpers.js";

const REQUESTS_PER_WINDOW = 2;
const RATE_WINDOW_MS = 1000;
/** Far beyond the budget's margin (50 ms at this window): a commit or event loop stalled that long. */
const STALL_MS = 400;

/**
 * The store's ingest port with every third reservation answered `STALL_MS` late, as a loaded
 * machine does: the slot is logged, then the send waits. The next request, not stalled, must
 * still not reach the vendor within a window of the stalled one's arrival.
 */
function stallingEveryThirdReservation(ingest: IngestStore): IngestStore {
  let reservations = 0;
  return new Proxy(ingest, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property !== "reserveRequest") return (value as (...args: unknown[]) => unknown).bind(target);
      return async (...args: Parameters<IngestStore["reserveRequest"]>) => {
        const reservation = await target.reserveRequest(...args);
        if (reservation.granted && reservations++ % 3 === 0) await new Promise((r) => setTimeout(r, STALL_MS));
        return reservation;
      };
    },
  });
}

for (const kind of STORE_KINDS)
  describe(`ingest integration: request spacing when sends are delayed after reserving, on ${kind}`, function () {
    this.timeout(120_000);
    let vendor: FakeVendor;
    let store: LedgerStore;
    let temp: ReturnType<typeof makeTempDir>;
    const nowMs = Date.now();
    const startMs = Math.floor((nowMs - 12 * 60_000) / 1000) * 1000;

    before(async () => {
      temp = makeTempDir();
      vendor = await startFakeVendor({
        data: {
          seed: 11,
          txPerMinute: 100,
          users: 40,
          startMs,
          endMs: nowMs - 2 * 60_000,
          badRowRate: 0,
          lateRate: 0,
          lateMaxMs: 0,
        },
        faults: NO_FAULTS,
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

    it("spaces requests from when each answer came back, so the vendor never refuses one", async () => {
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(REQUESTS_PER_WINDOW),
        LEDGER_VENDOR_BUDGET_WINDOW_MS: String(RATE_WINDOW_MS),
        LEDGER_VENDOR_PAGE_SIZE: "100",
        LEDGER_VENDOR_BACKFILL_WINDOW_MS: "600000",
        LEDGER_VENDOR_TIMEOUT_MS: "2000",
      });
      if (config === undefined) throw new Error("no config");
      const ingest = stallingEveryThirdReservation(store.ingest);
      const status = await runVendorBackfill({ store: { ingest }, config, logger: silentLogger });
      const stats = vendor.stats();

      expect(stats.requests).to.be.greaterThan(REQUESTS_PER_WINDOW * 4);
      expect(stats.rateLimited).to.equal(0);
      expect(stats.maxRequestsInWindow).to.be.at.most(REQUESTS_PER_WINDOW);
      expect(status.retries).to.equal(0);
      expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR")).to.deep.equal([]);
    });
  });

import { expect } from "chai";
import { runVendorBackfill } from "../../src/ingest/poller.js";
import type { IngestStore } from "../../src/store/ingest-port.js";
import type { LedgerStore } from "../../src/store/store.js";
import { NO_FAULTS, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import {
  compareTotals,
  fakeTotals,
  fastVendorConfig,
  makeTempDir,
  openStore,
  silentLogger,
  startFastVendor,
} from "./ingest-helpers.js";

const REQUESTS_PER_WINDOW = 2;
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
    let nowMs: number;
    let startMs: number;

    before(async () => {
      // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
      nowMs = Date.now();
      startMs = Math.floor((nowMs - 12 * 60_000) / 1000) * 1000;
      temp = makeTempDir();
      const data = { seed: 11, txPerMinute: 100, users: 40, startMs, endMs: nowMs - 2 * 60_000 };
      vendor = await startFastVendor(
        { ...data, badRowRate: 0, lateRate: 0, lateMaxMs: 0 },
        NO_FAULTS,
        REQUESTS_PER_WINDOW,
      );
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("spaces requests from when each answer came back, so the vendor never refuses one", async () => {
      const config = fastVendorConfig(vendor, startMs, {
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(REQUESTS_PER_WINDOW),
        LEDGER_VENDOR_PAGE_SIZE: "100",
        LEDGER_VENDOR_TIMEOUT_MS: "2000",
      });
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

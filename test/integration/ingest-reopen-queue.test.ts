/**
 * `npm run ingest -- --reopen FROM TO` beside a running service: the CLI cannot take the lease,
 * so it queues the range; the service's poller reads it within a cycle and marks it done with
 * the rows it recovered. With the lease free, the CLI reads the range itself.
 */
import { expect } from "chai";
import { startVendorPoller } from "../../src/ingest/poller.js";
import { reopenOrQueue } from "../../src/ingest/reopen-request.js";
import type { LedgerStore } from "../../src/store/store.js";
import type { FakeVendor } from "../../tools/fake-vendor/server.js";
import { STORE_KINDS } from "../support/stores.js";
import {
  compareTotals,
  fakeTotals,
  fastVendorConfig,
  heldVendorIds,
  makeTempDir,
  openStore,
  silentLogger,
  startFastVendor,
  VERY_LATE,
  waitUntilClosed,
} from "./ingest-helpers.js";

// Very late rows (VERY_LATE) appear in windows already closed; with reconciliation off, only a
// reopen brings them in.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of STORE_KINDS)
  describe(`ingest integration: --reopen beside the running service, on ${kind}`, function () {
    this.timeout(90_000);
    let temp: ReturnType<typeof makeTempDir>;
    let vendor: FakeVendor;
    let store: LedgerStore;

    before(async () => {
      temp = makeTempDir();
      store = await openStore(kind, temp.dir);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    it("queues the range for the lease holder, which reads it and reports it done; exact, nothing twice", async () => {
      const startMs = Math.floor((Date.now() - 20_000) / 1000) * 1000;
      const endMs = Math.floor((Date.now() + 1000) / 1000) * 1000;
      vendor = await startFastVendor({
        ...{ seed: 51, txPerMinute: 3000, users: 40, startMs, endMs, badRowRate: 0.003, lateRate: 0, lateMaxMs: 0 },
        ...VERY_LATE,
      });
      const config = fastVendorConfig(vendor, startMs, {
        LEDGER_VENDOR_LATENESS_MS: "500",
        LEDGER_VENDOR_RECONCILE_HORIZON_MS: "0",
      });
      const service = startVendorPoller({ store, config, logger: silentLogger });
      try {
        await waitUntilClosed(() => service.status(), endMs);
        vendor.advanceClock(VERY_LATE.veryLateMaxMs);
        const before = await compareTotals(store, await fakeTotals(vendor.url), "EUR");
        expect(before.length, "rows that appeared in closed windows are missing").to.be.greaterThan(0);
        const range = { type: "reopen", startMs, endMs } as const;
        const options = { store, config, logger: silentLogger };

        const outcome = await reopenOrQueue(options, range, 30_000);
        expect(outcome.type).to.equal("queued");
        if (outcome.type !== "queued") return;
        expect(outcome.request.doneAtMs, "the service's poller read it").to.not.equal(null);
        expect(outcome.request.rowsRecovered).to.be.greaterThan(0);
        expect(outcome.request.kind).to.equal("reopen");
        expect(outcome.request.check, "a reopen counts nothing").to.equal(null);
        expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR")).to.deep.equal([]);
        const held = await heldVendorIds(store);
        expect(held.length).to.equal(new Set(held).size);

        // Without waiting: answered at once with the queued id; read later, recovering nothing new.
        const queued = await reopenOrQueue(options, range, 0);
        expect(queued.type).to.equal("queued");
        if (queued.type !== "queued") return;
        expect(queued.request.id).to.be.greaterThan(outcome.request.id);
        expect(queued.request.doneAtMs).to.equal(null);
        let done = await store.ingest.getReopen(queued.request.id);
        for (let attempt = 0; attempt < 100 && done?.doneAtMs === null; attempt += 1) {
          await sleep(100);
          done = await store.ingest.getReopen(queued.request.id);
        }
        expect(done?.doneAtMs).to.not.equal(null);
        expect(done?.rowsRecovered).to.equal(0);
        expect(service.status().reopensDone).to.equal(2);
        expect(await store.ingest.nextReopen()).to.equal(undefined);
      } finally {
        await service.stop();
      }
      // The lease is free now: the CLI reads the range itself.
      const alone = await reopenOrQueue({ store, config, logger: silentLogger }, { type: "reopen", startMs, endMs }, 0);
      expect(alone.type).to.equal("read");
      if (alone.type === "read") {
        expect(alone.status.lastError).to.equal(null);
        expect(alone.status.rowsRecovered).to.equal(0);
        expect(alone.status.requestsByPurpose.task).to.be.greaterThan(0);
      }
      expect(vendor.stats().rateLimited).to.equal(0);
    });
  });

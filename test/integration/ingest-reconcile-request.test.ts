/**
 * `npm run ingest -- --reconcile FROM TO` beside the running service: the CLI cannot take the
 * lease, so it queues a count check; the service's poller runs it in its idle time and writes
 * what it found, which the CLI prints. With the lease free, the CLI checks the range itself.
 * The real CLI runs as a child process against the same database.
 */
import { spawn } from "node:child_process";
import { expect } from "chai";
import { startVendorPoller } from "../../src/ingest/poller.js";
import { reopenOrQueue } from "../../src/ingest/reopen-request.js";
import type { LedgerStore } from "../../src/store/store.js";
import type { FakeVendor } from "../../tools/fake-vendor/server.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";
import {
  compareTotals,
  fakeTotals,
  fastVendorConfig,
  FAST_BUDGET_PER_SECOND,
  makeTempDir,
  openStoreAt,
  silentLogger,
  startFastVendor,
  VERY_LATE,
  waitUntilClosed,
} from "./ingest-helpers.js";

// Very late rows (VERY_LATE) appear in windows already closed; with the service's own
// reconciliation off, their windows keep differing.

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

for (const kind of STORE_KINDS)
  describe(`ingest integration: --reconcile beside the running service, on ${kind}`, function () {
    this.timeout(120_000);
    let temp: ReturnType<typeof makeTempDir>;
    let vendor: FakeVendor;
    let store: LedgerStore;
    let database: string;

    before(async () => {
      temp = makeTempDir();
      database = await databaseFor(kind, temp.dir);
      store = await openStoreAt(kind, database);
    });

    after(async () => {
      await store.close();
      await vendor.close();
      temp.remove();
    });

    const cli = (startMs: number, args: string[]): Promise<CliRun> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/cli/ingest.ts", ...args], {
          env: {
            ...process.env,
            LEDGER_DB: database,
            LEDGER_LOG_LEVEL: "silent",
            LEDGER_VENDOR_URL: vendor.url,
            LEDGER_VENDOR_START: new Date(startMs).toISOString(),
            LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(FAST_BUDGET_PER_SECOND),
            LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
            LEDGER_VENDOR_WINDOW_MS: "1000",
            LEDGER_VENDOR_LATENESS_MS: "500",
            LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
            LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
          },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });

    it("queues the check for the lease holder, which counts it and writes what differs; the CLI prints it", async () => {
      const startMs = Math.floor((Date.now() - 20_000) / 1000) * 1000;
      const endMs = Math.floor((Date.now() + 1000) / 1000) * 1000;
      vendor = await startFastVendor({
        ...{ seed: 61, txPerMinute: 3000, users: 40, startMs, endMs, badRowRate: 0, lateRate: 0, lateMaxMs: 0 },
        ...VERY_LATE,
      });
      const config = fastVendorConfig(vendor, startMs, {
        LEDGER_VENDOR_LATENESS_MS: "500",
        LEDGER_VENDOR_RECONCILE_HORIZON_MS: "0",
      });
      const from = new Date(startMs).toISOString();
      const to = new Date(endMs).toISOString();
      const service = startVendorPoller({ store, config, logger: silentLogger });
      let missingRows: string[];
      try {
        await waitUntilClosed(() => service.status(), endMs);
        vendor.advanceClock(VERY_LATE.veryLateMaxMs);
        missingRows = await compareTotals(store, await fakeTotals(vendor.url), "EUR");
        expect(missingRows.length, "rows that appeared in closed windows are missing").to.be.greaterThan(0);
        const tasksBefore = service.status().requestsByPurpose.task;

        const run = await cli(startMs, ["--reconcile", from, to, "--wait", "60"]);
        expect(run.code, run.stderr).to.equal(0);
        const printed = JSON.parse(run.stdout) as {
          task: string;
          queued: boolean;
          done: boolean;
          id: number;
          kind: string;
          rowsRecovered: number;
          rangesVerified: number;
          rangesDiffering: number;
          differences: { start: string; end: string; vendorCount: number; heldCount: number }[];
        };
        expect(printed).to.include({
          task: "reconcile",
          queued: true,
          done: true,
          kind: "reconcile",
          rowsRecovered: 0,
        });
        expect(printed.differences.length).to.be.greaterThan(0);
        for (const window of printed.differences) {
          expect(window.vendorCount, window.start).to.be.greaterThan(window.heldCount);
          expect(Date.parse(window.end) - Date.parse(window.start)).to.be.at.most(1000);
        }
        expect(printed.rangesDiffering).to.be.at.least(printed.differences.length);
        expect(printed.rangesVerified).to.be.greaterThan(0);
        // The service spent the requests, within its budget; the check wrote nothing.
        const counts = printed.rangesVerified + printed.rangesDiffering;
        expect(service.status().requestsByPurpose.task - tasksBefore).to.equal(counts);
        expect(service.status().reopensDone).to.equal(1);
        expect(await compareTotals(store, await fakeTotals(vendor.url), "EUR")).to.deep.equal(missingRows);
        const stored = await store.ingest.getReopen(printed.id);
        expect(stored?.check?.differences).to.deep.equal(printed.differences);
      } finally {
        await service.stop();
      }

      // The lease is free now: the CLI checks the range itself and finds the same windows.
      const alone = await reopenOrQueue(
        { store, config, logger: silentLogger },
        { type: "reconcile", startMs, endMs },
        0,
      );
      expect(alone.type).to.equal("read");
      if (alone.type === "read") {
        expect(alone.status.lastError).to.equal(null);
        const missing = alone.differences.reduce((sum, window) => sum + window.vendorCount - window.heldCount, 0);
        expect(missing).to.be.greaterThan(0);
        expect(alone.status.requestsByPurpose.task).to.equal(
          alone.status.rangesVerified + alone.status.rangesDiffering,
        );
      }
      expect(vendor.stats().rateLimited).to.equal(0);
      expect(vendor.stats().maxRequestsInWindow).to.be.at.most(FAST_BUDGET_PER_SECOND);
    });

    it("exits 1 with the request still queued when the wait runs out, and 2 on a bad range", async () => {
      const startMs = Math.floor((Date.now() - 20_000) / 1000) * 1000;
      const from = new Date(startMs).toISOString();
      const to = new Date(startMs + 10_000).toISOString();
      // Another process holds the lease and does nothing with the queue: the wait must run out.
      expect(await store.ingest.acquireLease("a stuck service", Date.now(), 60_000)).to.equal(true);
      try {
        const run = await cli(startMs, ["--reconcile", from, to, "--wait", "1"]);
        expect(run.code, run.stderr).to.equal(1);
        const printed = JSON.parse(run.stdout) as { queued: boolean; done: boolean; id: number; kind: string };
        expect(printed).to.include({ queued: true, done: false, kind: "reconcile" });
        const stored = await store.ingest.getReopen(printed.id);
        expect(stored?.doneAtMs).to.equal(null);
        expect(stored?.check).to.equal(null);
      } finally {
        await store.ingest.releaseLease("a stuck service");
      }

      for (const args of [
        ["--reconcile", to, from],
        ["--reconcile", from, "yesterday"],
        ["--reconcile", from],
        ["--reconcile", from, to, "--wait", "soon"],
      ]) {
        const run = await cli(startMs, args);
        expect(run.code, args.join(" ")).to.equal(2);
        expect(run.stdout).to.equal("");
        expect(run.stderr).to.match(
          /usage: npm run ingest|FROM must be at least a second before TO|--wait must be a whole number/,
        );
      }
    });
  });

/**
 * The rewards scenario end to end: the service, started with LEDGER_VENDOR_URL like a user
 * would, ingests the fake vendor in the background, and GetBalance and GetPayouts, called over
 * gRPC, end up equal to the vendor's own totals to the minor unit.
 */
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { GrpcTestClient } from "../support/grpc-client.js";
import { STORE_KINDS } from "../support/stores.js";
import { startApp, type TestApp } from "../support/app.js";
import { fakeTotals, type FakeTotalsBody } from "../integration/ingest-helpers.js";
import { scrape } from "../support/prometheus.js";

const MINUTE_MS = 60_000;

for (const store of STORE_KINDS)
  describe(`service with the vendor poller (fake vendor), on ${store}`, () => {
    let vendor: FakeVendor;
    let server: TestApp;
    let client: GrpcTestClient;
    let startMs: number;

    before(async () => {
      // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
      startMs = Math.floor((Date.now() - 10 * MINUTE_MS) / 1000) * 1000;
      vendor = await startFakeVendor({
        data: {
          seed: 7,
          txPerMinute: 300,
          users: 40,
          startMs,
          endMs: startMs + 5 * MINUTE_MS,
          badRowRate: 0.01,
          lateRate: 0.05,
          lateMaxMs: 500,
        },
        faults: NO_FAULTS,
        requestsPerWindow: 20,
        rateWindowMs: 1000,
        pageSizeMax: 1000,
        host: "127.0.0.1",
        port: 0,
      });
      server = await startApp(
        {
          LEDGER_VENDOR_URL: vendor.url,
          LEDGER_VENDOR_START: new Date(startMs).toISOString(),
          LEDGER_VENDOR_CURRENCY: "EUR",
          LEDGER_VENDOR_REQUESTS_PER_MINUTE: "10",
          LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
          LEDGER_VENDOR_LATENESS_MS: "1000",
          LEDGER_VENDOR_POLL_INTERVAL_MS: "200",
        },
        store,
      );
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
      await vendor.close();
    });

    it("fills balances and requested payouts in, exactly as the vendor's totals say", async () => {
      const expected: FakeTotalsBody = await fakeTotals(vendor.url);
      expect(Object.keys(expected.users).length).to.be.greaterThan(10);

      // Wait for the poller to close every window of the vendor's data.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const health = (await (await fetch(`${server.baseUrl}/healthz/details`)).json()) as {
          ingest?: { closedUntil: string | null };
        };
        const closedUntil = Date.parse(health.ingest?.closedUntil ?? "");
        if (closedUntil >= startMs + 5 * MINUTE_MS) break;
        if (Date.now() > deadline) throw new Error(`poller did not catch up: ${JSON.stringify(health.ingest)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }

      for (const [userId, totals] of Object.entries(expected.users)) {
        const [account] = (await client.unary(LedgerService.method.getBalance, { userId, currency: "EUR" })).balances;
        expect(
          {
            earned: `${account?.earned}`,
            spent: `${account?.spent}`,
            // `payout` is the sum of the user's payout transactions, as the vendor's totals count it.
            payout: `${account?.payout}`,
            paidOut: `${account?.paidOut}`,
            balance: `${account?.balance}`,
          },
          userId,
        ).to.deep.equal(totals);
        expect(account?.payoutRequested, userId).to.equal(account?.payout);
        expect(account?.payoutOutstanding, userId).to.equal(BigInt(totals.payout) - BigInt(totals.paidOut));
      }

      const outstanding = Object.entries(expected.users)
        .filter(([, totals]) => BigInt(totals.payout) > BigInt(totals.paidOut))
        .map(([userId, totals]) => ({ userId, amount: BigInt(totals.payout) - BigInt(totals.paidOut) }))
        .sort((a, b) => (a.userId < b.userId ? -1 : 1));
      const listed: { userId: string; amount: bigint }[] = [];
      let pageToken = "";
      do {
        const page = await client.unary(LedgerService.method.getPayouts, { pageSize: 7, pageToken });
        listed.push(...page.payouts.map((payout) => ({ userId: payout.userId, amount: payout.amount })));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(outstanding.length).to.be.greaterThan(0);
      expect(listed).to.deep.equal(outstanding);
      expect(vendor.stats().rateLimited, "the poller stayed inside the vendor's limit").to.equal(0);
    });

    it("shows the poller's lag, rows and budget in GET /metrics, equal to its status", async () => {
      const metrics = await scrape(server.baseUrl);
      const status = server.app.poller()?.status();
      if (status === undefined) throw new Error("the poller did not start");
      expect(metrics.value("ledger_ingest_rows_total", { outcome: "applied" })).to.be.greaterThan(0);
      // The scrape and the status are two readings; rows only grow between them.
      expect(metrics.value("ledger_ingest_rows_total", { outcome: "applied" })).to.be.at.most(status.rowsIngested);
      expect(metrics.value("ledger_ingest_rows_total", { outcome: "quarantined" })).to.be.greaterThan(0);
      expect(metrics.family("ledger_ingest_rows_total").type).to.equal("counter");
      expect(metrics.value("ledger_ingest_requests_total")).to.be.greaterThan(0);
      expect(metrics.value("ledger_ingest_budget_window_requests_max")).to.equal(status.requestsPerWindow);
      expect(metrics.value("ledger_ingest_budget_window_requests")).to.be.within(0, status.requestsPerWindow);
      expect(metrics.family("ledger_ingest_lag_seconds").type).to.equal("gauge");
      expect(metrics.value("ledger_ingest_lag_seconds")).to.be.within(0, 60);
      // The poller's writes go through the group commit like every other write.
      expect(metrics.count("ledger_store_write_batch_size")).to.be.greaterThan(0);
      // The README's table names every ingest metric (the README test's server has no vendor).
      const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
      const ingestNames = [...metrics.families.keys()].filter((name) => name.startsWith("ledger_ingest_"));
      expect(ingestNames).to.have.length(7);
      expect(metrics.family("ledger_ingest_reconcile_ranges_total").type).to.equal("counter");
      expect(metrics.value("ledger_ingest_rows_recovered_total")).to.equal(status.rowsRecovered);
      for (const name of ingestNames) expect(readme, name).to.include(`| \`${name}\` |`);
      expect(readme).to.include("| `ledger_vendor_requests_total` |");
      // Requests by purpose: every purpose has its series, and together they are every request.
      expect(metrics.family("ledger_vendor_requests_total").type).to.equal("counter");
      let byPurpose = 0;
      for (const [purpose, total] of Object.entries(status.requestsByPurpose)) {
        expect(metrics.sample("ledger_vendor_requests_total", { purpose }), purpose).to.not.equal(undefined);
        const value = metrics.value("ledger_vendor_requests_total", { purpose });
        expect(value, purpose).to.be.at.most(total);
        byPurpose += value;
      }
      expect(Object.keys(status.requestsByPurpose)).to.have.members([
        "fresh",
        "closing",
        "count",
        "reconcileCount",
        "reconcileRead",
        "task",
      ]);
      expect(metrics.value("ledger_vendor_requests_total", { purpose: "closing" })).to.be.greaterThan(0);
      expect(byPurpose).to.equal(metrics.value("ledger_ingest_requests_total"));
    });
  });

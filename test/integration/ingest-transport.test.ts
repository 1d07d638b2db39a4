/**
 * The vendor transport: a redirect is never followed (it could send the poller, and whatever it
 * trusts, anywhere), and a cleartext vendor off this machine is warned about at start.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { readVendorConfig } from "../../src/ingest/config.js";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { startVendorPoller, type IngestLogger } from "../../src/ingest/poller.js";
import type { LedgerStore } from "../../src/store/store.js";
import { makeTempDir, openStore, silentLogger } from "./ingest-helpers.js";

function capturingLogger(): IngestLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => undefined,
    error: () => undefined,
    warn: (_fields, message) => warnings.push(message ?? ""),
  };
}

describe("ingest: vendor transport", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let store: LedgerStore;

  beforeEach(async () => {
    temp = makeTempDir();
    store = await openStore("sqlite", temp.dir);
  });

  afterEach(async () => {
    await store.close();
    temp.remove();
  });

  it("does not follow a vendor's redirect, and says so in lastError", async () => {
    const vendor: FakeVendor = await startFakeVendor({
      data: {
        seed: 1,
        txPerMinute: 600,
        users: 5,
        startMs: Date.now() - 120_000,
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
    const redirector: Server = createServer((request, response) => {
      response.writeHead(302, { location: `${vendor.url}${request.url ?? "/"}` });
      response.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      const config = readVendorConfig({
        LEDGER_VENDOR_URL: `http://127.0.0.1:${port}`,
        LEDGER_VENDOR_START: new Date(Date.now() - 120_000).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: "1000",
        LEDGER_VENDOR_BACKOFF_BASE_MS: "50",
        LEDGER_VENDOR_BACKOFF_MAX_MS: "100",
      });
      if (config === undefined) throw new Error("no config");
      const poller = startVendorPoller({ store, config, logger: silentLogger });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const status = poller.status();
      await poller.stop();
      expect(status.rowsIngested).to.equal(0);
      expect(status.retries).to.be.greaterThan(0);
      expect(status.lastError)
        .to.match(/redirect/)
        .and.to.include("302");
      expect(vendor.stats().requests).to.equal(0);
    } finally {
      await new Promise((resolve) => redirector.close(resolve));
      await vendor.close();
    }
  });

  it("warns at start about a cleartext vendor off this machine, and only then", async () => {
    const cases: [string, boolean][] = [
      ["http://192.0.2.10:8080", true],
      ["http://vendor.example.com", true],
      ["https://vendor.example.com", false],
      ["http://127.0.0.1:9", false],
      ["http://localhost:9", false],
    ];
    for (const [url, warns] of cases) {
      const config = readVendorConfig({ LEDGER_VENDOR_URL: url, LEDGER_VENDOR_TIMEOUT_MS: "100" });
      if (config === undefined) throw new Error("no config");
      const logger = capturingLogger();
      const poller = startVendorPoller({ store, config, logger });
      await poller.stop();
      expect(
        logger.warnings.some((message) => /cleartext/.test(message)),
        url,
      ).to.equal(warns);
    }
  });
});

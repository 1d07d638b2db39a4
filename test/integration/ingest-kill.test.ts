import { expect } from "chai";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { NO_FAULTS, startFakeVendor, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { compareTotals, fakeTotals, makeTempDir, openStoreAt } from "./ingest-helpers.js";

const REQUESTS_PER_WINDOW = 40;
const RATE_WINDOW_MS = 1000;

/** Vendor entries committed so far, read from outside the child process. */
function countVendorEntries(filename: string): number {
  try {
    const db = new Database(filename, { readonly: true, fileMustExist: true });
    try {
      return (
        db.prepare("SELECT COUNT(*) AS count FROM entries WHERE external_id IS NOT NULL").get() as { count: number }
      ).count;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created or not migrated yet
  }
}

describe("ingest integration: the real one-shot process killed with SIGKILL and restarted", function () {
  this.timeout(120_000);
  let vendor: FakeVendor;
  let temp: ReturnType<typeof makeTempDir>;
  const children = new Set<ChildProcess>();
  let nowMs: number;
  let startMs: number;

  before(async () => {
    // Set when the test runs, not when mocha loads the file, so the history before now is as long as meant.
    nowMs = Date.now();
    startMs = Math.floor((nowMs - 20 * 60_000) / 1000) * 1000;
    temp = makeTempDir();
    vendor = await startFakeVendor({
      data: {
        seed: 11,
        txPerMinute: 600,
        users: 150,
        startMs,
        endMs: nowMs - 5 * 60_000,
        badRowRate: 0.003,
        lateRate: 0.02,
        lateMaxMs: 5000,
      },
      faults: { ...NO_FAULTS, serverErrorRate: 0.03, dropRate: 0.02, shiftRate: 0.03 },
      requestsPerWindow: REQUESTS_PER_WINDOW,
      rateWindowMs: RATE_WINDOW_MS,
      pageSizeMax: 1000,
      host: "127.0.0.1",
      port: 0,
    });
  });

  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await vendor.close();
    temp.remove();
  });

  const spawnIngest = (dbPath: string): ChildProcess => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/ingest.ts"], {
      env: {
        ...process.env,
        LEDGER_DB: dbPath,
        LEDGER_DURABILITY: "full",
        LEDGER_LOG_LEVEL: "silent",
        LEDGER_VENDOR_URL: vendor.url,
        LEDGER_VENDOR_START: new Date(startMs).toISOString(),
        LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(REQUESTS_PER_WINDOW),
        LEDGER_VENDOR_BUDGET_WINDOW_MS: String(RATE_WINDOW_MS),
        LEDGER_VENDOR_PAGE_SIZE: "100",
        LEDGER_VENDOR_BACKFILL_WINDOW_MS: "120000",
        LEDGER_VENDOR_TIMEOUT_MS: "1000",
        LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
        LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
        // A killed run leaves its lease behind; the next run takes it over once it expires.
        LEDGER_VENDOR_LEASE_TTL_MS: "600",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(child);
    child.on("exit", () => children.delete(child));
    return child;
  };

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once("exit", (code) => resolve(code));
    });

  it("loses nothing and doubles nothing across kills at several points", async () => {
    const dbPath = join(temp.dir, "ledger.db");
    const expected = await fakeTotals(vendor.url);
    const killAt = [0.1, 0.3, 0.5, 0.7, 0.9].map((share) => Math.floor(expected.validCount * share));
    const seenAtKill: number[] = [];
    for (const threshold of killAt) {
      const child = spawnIngest(dbPath);
      while (countVendorEntries(dbPath) < threshold && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      child.kill("SIGKILL");
      await exited(child);
      seenAtKill.push(countVendorEntries(dbPath));
    }
    // Each kill landed mid-backfill, after progress, never after the end.
    for (const [index, seen] of seenAtKill.entries()) {
      expect(seen, `kill ${index}`).to.be.at.least(killAt[index] ?? 0);
      expect(seen, `kill ${index}`).to.be.below(expected.validCount);
    }
    const last = spawnIngest(dbPath);
    let output = "";
    last.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    expect(await exited(last)).to.equal(0);
    expect(output).to.match(/"closedUntil"/);

    const store = await openStoreAt("sqlite", dbPath);
    try {
      expect(await compareTotals(store, expected, "EUR")).to.deep.equal([]);
      const quarantine = await store.ingest.listQuarantine();
      expect(quarantine.map((row) => row.raw).sort()).to.deep.equal([...expected.badRows].sort());
    } finally {
      await store.close();
    }
    // The request log outlived every kill: the vendor never saw more than the budget.
    const stats = vendor.stats();
    expect(stats.rateLimited).to.equal(0);
    expect(stats.maxRequestsInWindow).to.be.at.most(REQUESTS_PER_WINDOW);
  });
});

/**
 * Shared pieces of the ingest integration tests: a temp database, a fake vendor and poller
 * settings scaled down to seconds, the vendor ids each side holds, the fake vendor's expected
 * totals, and a field-by-field comparison with the ledger's accounts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readVendorConfig, type VendorConfig } from "../../src/ingest/config.js";
import type { IngestLogger } from "../../src/ingest/poller.js";
import type { VendorPollerStatus } from "../../src/ingest/status.js";
import type { FakeDataOptions } from "../../tools/fake-vendor/generator.js";
import { NO_FAULTS, startFakeVendor, type FakeFaults, type FakeVendor } from "../../tools/fake-vendor/server.js";
import { openStore as openConfiguredStore } from "../../src/store/open.js";
import type { LedgerStore } from "../../src/store/store.js";
import { databaseFor, type StoreKind } from "../support/stores.js";

export interface FakeTotalsBody {
  validCount: number;
  badRows: string[];
  users: Record<string, { earned: string; spent: string; payout: string; paidOut: string; balance: string }>;
}

export function makeTempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-ingest-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens a store of this kind on `database` (a file path or a PostgreSQL URL). */
export function openStoreAt(kind: StoreKind, database: string): Promise<LedgerStore> {
  const limits = { batchSizeMax: 100, queueDepthMax: 1000 };
  return kind === "sqlite"
    ? openConfiguredStore({
        kind,
        sqlite: { filename: database, durability: "normal", busyTimeoutMs: 5000, ...limits },
      })
    : openConfiguredStore({
        kind,
        postgres: {
          url: database,
          poolMax: 6,
          statementTimeoutMs: 10_000,
          connectTimeoutMs: 5000,
          ssl: "disable",
          sslCaFile: "",
          ...limits,
        },
      });
}

/** A fresh, empty store of this kind (a file in `dir`, or a new PostgreSQL database). */
export async function openStore(kind: StoreKind, dir: string): Promise<LedgerStore> {
  return openStoreAt(kind, await databaseFor(kind, dir));
}

export async function fakeTotals(url: string): Promise<FakeTotalsBody> {
  const response = await fetch(`${url}/_fake/totals`);
  return (await response.json()) as FakeTotalsBody;
}

/** Every difference between the fake's totals and the ledger's accounts, as readable lines. */
export async function compareTotals(store: LedgerStore, expected: FakeTotalsBody, currency: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [userId, totals] of Object.entries(expected.users)) {
    const [account] = await store.getAccounts(userId, currency);
    const actual =
      account === undefined
        ? undefined
        : {
            earned: `${account.earned}`,
            spent: `${account.spent}`,
            payout: `${account.payoutRequested}`,
            paidOut: `${account.paidOut}`,
            balance: `${account.balance}`,
          };
    if (JSON.stringify(actual) !== JSON.stringify(totals))
      problems.push(`${userId}: expected ${JSON.stringify(totals)}, got ${JSON.stringify(actual)}`);
  }
  const entries = await store.withSnapshot((all) => {
    let count = 0;
    for (const entry of all) if (entry.externalId !== null) count += 1;
    return count;
  });
  if (entries !== expected.validCount)
    problems.push(`expected ${expected.validCount} vendor entries, found ${entries}`);
  return problems;
}

/**
 * Very late rows appear one to three hours after their createdAt, as after a vendor's outage or a
 * back-dated correction: far past any window's lateness bound. The tests jump the fake vendor's
 * clock (`advanceClock(VERY_LATE.veryLateMaxMs)`) once the poller has closed their windows, so
 * each of them appears in a closed window however slowly the poller ran.
 */
export const VERY_LATE = { veryLateRate: 0.03, veryLateMinMs: 3_600_000, veryLateMaxMs: 3 * 3_600_000 } as const;

/** Waits until the poller has closed every window before `untilMs`; fails after `boundMs`. */
export async function waitUntilClosed(
  status: () => VendorPollerStatus,
  untilMs: number,
  boundMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  const closedUntil = () => Date.parse(status().closedUntil ?? "") || -Infinity;
  while (closedUntil() < untilMs) {
    if (Date.now() > deadline)
      throw new Error(`the poller closed windows up to ${status().closedUntil} only, within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const silentLogger: IngestLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Requests a second the scaled-down vendor allows, and the poller's budget. */
export const FAST_BUDGET_PER_SECOND = 30;

/** A fake vendor on port 0 whose rate limit counts over one second instead of a minute. */
export function startFastVendor(
  data: FakeDataOptions,
  faults: FakeFaults = NO_FAULTS,
  requestsPerWindow = FAST_BUDGET_PER_SECOND,
): Promise<FakeVendor> {
  return startFakeVendor({
    data,
    faults,
    requestsPerWindow,
    rateWindowMs: 1000,
    pageSizeMax: 1000,
    host: "127.0.0.1",
    port: 0,
  });
}

/**
 * Poller settings scaled from minutes to seconds (budget per second, 1 s windows, fresh reads
 * every 200 ms, short backoff), from `startMs`; `overrides` are more LEDGER_VENDOR_* variables.
 */
export function fastVendorConfig(vendor: FakeVendor, startMs: number, overrides: NodeJS.ProcessEnv = {}): VendorConfig {
  const config = readVendorConfig({
    LEDGER_VENDOR_URL: vendor.url,
    LEDGER_VENDOR_START: new Date(startMs).toISOString(),
    LEDGER_VENDOR_REQUESTS_PER_MINUTE: String(FAST_BUDGET_PER_SECOND),
    LEDGER_VENDOR_BUDGET_WINDOW_MS: "1000",
    LEDGER_VENDOR_WINDOW_MS: "1000",
    LEDGER_VENDOR_POLL_INTERVAL_MS: "200",
    LEDGER_VENDOR_BACKOFF_BASE_MS: "20",
    LEDGER_VENDOR_BACKOFF_MAX_MS: "200",
    ...overrides,
  });
  if (config === undefined) throw new Error("no vendor config");
  return config;
}

/** The vendor ids of the ledger's entries (one per entry, so a duplicate would show twice). */
export function heldVendorIds(store: LedgerStore, beforeMs = Infinity): Promise<string[]> {
  return store.withSnapshot((entries) => {
    const ids: string[] = [];
    for (const entry of entries)
      if (entry.externalId !== null && entry.occurredAtMs < beforeMs) ids.push(entry.externalId);
    return ids;
  });
}

/** The ids of the vendor's valid rows created before `untilMs`, visible or not. */
export function vendorIdsBefore(vendor: FakeVendor, untilMs: number): Set<string> {
  const ids = new Set<string>();
  for (let index = 0; index < vendor.data.indexAt(untilMs); index += 1) {
    const row = vendor.data.get(index);
    if (row.fact !== null) ids.add((JSON.parse(row.json) as { id: string }).id);
  }
  return ids;
}

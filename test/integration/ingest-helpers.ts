/**
 * Shared pieces of the ingest integration tests: a temp database, the fake vendor's expected
 * totals, and a field-by-field comparison with the ledger's accounts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IngestLogger } from "../../src/ingest/poller.js";
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

export const silentLogger: IngestLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Shared pieces of the ingest integration tests: a temp database, the fake vendor's expected
 * totals, and a field-by-field comparison with the ledger's accounts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { IngestLogger } from "../../src/ingest/poller.js";

export interface FakeTotalsBody {
  validCount: number;
  badRows: string[];
  users: Record<string, { earned: string; spent: string; payout: string; paidOut: string; balance: string }>;
}

export function makeTempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-ingest-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openStore(filename: string): Promise<SqliteStore> {
  return SqliteStore.open({ filename, durability: "normal", batchSizeMax: 100, queueDepthMax: 1000, busyTimeoutMs: 5000 });
}

export async function fakeTotals(url: string): Promise<FakeTotalsBody> {
  const response = await fetch(`${url}/_fake/totals`);
  return (await response.json()) as FakeTotalsBody;
}

/** Every difference between the fake's totals and the ledger's accounts, as readable lines. */
export async function compareTotals(store: SqliteStore, expected: FakeTotalsBody, currency: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [userId, totals] of Object.entries(expected.users)) {
    const [account] = await store.getAccounts(userId, currency);
    const actual = account === undefined ? undefined : {
      earned: `${account.earned}`, spent: `${account.spent}`, payout: `${account.payoutRequested}`,
      paidOut: `${account.paidOut}`, balance: `${account.balance}`,
    };
    if (JSON.stringify(actual) !== JSON.stringify(totals)) problems.push(`${userId}: expected ${JSON.stringify(totals)}, got ${JSON.stringify(actual)}`);
  }
  let entries = 0;
  for (const entry of store.iterateEntries()) if (entry.externalId !== null) entries += 1;
  if (entries !== expected.validCount) problems.push(`expected ${expected.validCount} vendor entries, found ${entries}`);
  return problems;
}

export const silentLogger: IngestLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The durable SQLite store the store-level and ingest benches run on: a file in a fresh temp
 * folder, full durability, large batches and queue, so the bench measures the store, not limits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LedgerStore } from "../../src/store/store.js";
import { openSqliteStore, type SqliteStoreOptions } from "../../src/store/sqlite/index.js";

export async function openBenchStore(
  prefix: string,
  extra: Partial<SqliteStoreOptions> = {},
): Promise<{ store: LedgerStore; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = await openSqliteStore({
    filename: join(dir, "ledger.db"),
    durability: "full",
    batchSizeMax: 1000,
    queueDepthMax: 50_000,
    busyTimeoutMs: 2000,
    ...extra,
  });
  return { store, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

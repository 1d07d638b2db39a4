/**
 * For the SQLite-only tests that break the database on purpose (disk full, a closed connection):
 * the connection behind a SQLite store. Production code cannot reach it; tests reach it here,
 * in one place, knowingly.
 */
import type { Database } from "better-sqlite3";
import type { LedgerStore } from "../../src/store/store.js";

export function sqliteConnection(store: LedgerStore): Database {
  const db = (store as unknown as { db?: Database }).db;
  if (db === undefined) throw new Error("not a SQLite store");
  return db;
}

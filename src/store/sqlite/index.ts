/**
 * The SQLite store's public face: open it and use it through the store port. Everything else
 * (the connection, group commit, SQL) stays in `./private/`, which no code outside this folder
 * imports.
 */
import type { LedgerStore } from "../store.js";
import { SqliteStore, type Durability, type SqliteStoreOptions } from "./private/sqlite-store.js";

export type { Durability, SqliteStoreOptions };

/** Migrates the file to the newest schema, then opens it for serving. */
export function openSqliteStore(options: SqliteStoreOptions): Promise<LedgerStore> {
  return SqliteStore.open(options);
}

/**
 * Opens the store the configuration names: a SQLite file (the default) or PostgreSQL (when
 * LEDGER_DB is a postgres:// or postgresql:// URL). Everything above this file sees the port only.
 */
import { openPostgresStore, type PostgresStoreOptions } from "./postgres/index.js";
import { openSqliteStore, type SqliteStoreOptions } from "./sqlite/index.js";
import type { LedgerStore } from "./store.js";

export type StoreSettings =
  | { readonly kind: "sqlite"; readonly sqlite: SqliteStoreOptions }
  | { readonly kind: "postgres"; readonly postgres: PostgresStoreOptions };

/** True for the URLs that select PostgreSQL; anything else is a SQLite file path. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

// Both stores are imported statically. Loading PostgreSQL's lazily was tried: under tsx the
// dynamically imported graph got its own copies of the store's error classes, and a store
// outage was answered INTERNAL instead of UNAVAILABLE.
export function openStore(settings: StoreSettings): Promise<LedgerStore> {
  return settings.kind === "sqlite" ? openSqliteStore(settings.sqlite) : openPostgresStore(settings.postgres);
}

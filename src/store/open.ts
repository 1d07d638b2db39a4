/**
 * Opens the store the configuration names: a SQLite file (the default) or PostgreSQL (when
 * LEDGER_DB is a postgres:// or postgresql:// URL). Everything above this file sees the port only.
 */
import { openPostgresStore, type PostgresStoreOptions } from "./postgres/index.js";
import { openSqliteStore, type SqliteStoreOptions } from "./sqlite/index.js";
import type { LedgerStore, WriteBatchObserver } from "./store.js";

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
export interface StoreHooks {
  /**
   * SQLite only: called once after a COMMIT failed with an I/O error, when the store has stopped
   * taking writes and the process should stop for its supervisor (see `group-commit.ts`).
   * PostgreSQL needs no such stop: the server decides a commit whose answer was lost, and the
   * caller is told to retry with the same idempotency key.
   */
  readonly onFailStop?: (error: unknown) => void;
  /** Told of every committed write batch (its size and timings), for the metrics; both stores. */
  readonly writeObserver?: WriteBatchObserver;
  /**
   * The clock both stores take the commit time from (milliseconds since 1970): `Date.now`
   * unless a test injects one, so that hold expiry is tested without sleeping.
   */
  readonly clockMs?: () => number;
}

export function openStore(settings: StoreSettings, hooks: StoreHooks = {}): Promise<LedgerStore> {
  const { onFailStop, writeObserver, clockMs } = hooks;
  const observed = {
    ...(writeObserver === undefined ? {} : { writeObserver }),
    ...(clockMs === undefined ? {} : { clockMs }),
  };
  if (settings.kind === "postgres") return openPostgresStore({ ...settings.postgres, ...observed });
  return openSqliteStore({ ...settings.sqlite, ...observed, ...(onFailStop === undefined ? {} : { onFailStop }) });
}

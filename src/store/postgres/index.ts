/**
 * The PostgreSQL store's public face: open it and use it through the store port. The pool,
 * batching and SQL stay in `./private/`, which no code outside this folder imports.
 */
import type { LedgerStore } from "../store.js";
import { BIGINT_TYPES, type PostgresSsl, type PostgresStoreOptions } from "./private/pool.js";
import { PostgresStore } from "./private/postgres-store.js";

export type { PostgresSsl, PostgresStoreOptions };
/** The pg type parsers the store reads with (int8 as `bigint`), for tools that read its tables. */
export { BIGINT_TYPES };

/** Connects, migrates the database to the newest schema (under knex's lock), and opens it. */
export function openPostgresStore(options: PostgresStoreOptions): Promise<LedgerStore> {
  return PostgresStore.open(options);
}

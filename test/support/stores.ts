/**
 * The stores every store-level and integration test runs on: the parameter of one suite, not two
 * copies of it. `databaseFor` answers what LEDGER_DB should be for a fresh, empty ledger.
 */
import { join } from "node:path";
import { createDatabase } from "./postgres-server.js";

export type StoreKind = "sqlite" | "postgres";

export const STORE_KINDS: readonly StoreKind[] = ["sqlite", "postgres"];

/** A new database of this kind: a file in `dir`, or a fresh database on the run's PostgreSQL. */
export async function databaseFor(kind: StoreKind, dir: string): Promise<string> {
  if (kind === "sqlite") return join(dir, "ledger.db");
  return freshPostgresUrl();
}

export function freshPostgresUrl(): Promise<string> {
  const adminUrl = process.env.LEDGER_TEST_POSTGRES_ADMIN_URL;
  if (adminUrl === undefined) {
    throw new Error(
      "the tests' PostgreSQL is not running: run mocha with the project's .mocharc (test/support/postgres-global.ts)",
    );
  }
  return createDatabase(adminUrl, process.env.LEDGER_TEST_POSTGRES_TEMPLATE);
}

/**
 * Mocha's global fixture (loaded through .mocharc `require`): one PostgreSQL for the whole run,
 * started before the first test file and removed after the last. Test files then ask
 * `freshPostgresUrl()` for a database of their own.
 *
 * LEDGER_TEST_POSTGRES_URL (a database on a server where the tests may CREATE DATABASE) replaces
 * the embedded server. Otherwise the embedded one starts; if it cannot, the run fails here, with
 * the reason, before any test runs.
 */
import { migrateToLatest } from "../../src/store/migrate.js";
import { createDatabase, startEmbeddedPostgres, withDatabase, type RunningPostgres } from "./postgres-server.js";

let running: RunningPostgres | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  let adminUrl = process.env.LEDGER_TEST_POSTGRES_URL;
  if (adminUrl === undefined || adminUrl === "") {
    running = await startEmbeddedPostgres();
    adminUrl = running.adminUrl;
  }
  // A migrated template: each test's database is a copy of it, so no test pays for migrations.
  const template = new URL(await createDatabase(adminUrl)).pathname.slice(1);
  await migrateToLatest({ dialect: "postgres", connection: { connectionString: withDatabase(adminUrl, template) } });
  process.env.LEDGER_TEST_POSTGRES_ADMIN_URL = adminUrl;
  process.env.LEDGER_TEST_POSTGRES_TEMPLATE = template;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await running?.stop();
}

/**
 * Applies `migrations/` through knex, on SQLite and on PostgreSQL: one list of migrations, each
 * with a branch per dialect where their SQL differs, so both stores share one schema history.
 * knex owns the schema and its history table; at run time each store uses its own driver.
 *
 * Several processes may start at once against one PostgreSQL: knex's migration lock lets one of
 * them migrate, and the others, told the lock is taken, wait and try again until the schema is
 * current (up to `MIGRATION_LOCK_WAIT_MS`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import knexFactory, { type Knex } from "knex";
import * as initial from "../../migrations/20261122000000_initial.js";
import * as vendorIngest from "../../migrations/20261122000100_vendor_ingest.js";
import * as pollerLease from "../../migrations/20261123000000_poller_lease.js";
import * as entryHistory from "../../migrations/20261123100000_entry_history.js";
import * as entryAsOf from "../../migrations/20261123100100_entry_as_of.js";
import * as entryGroups from "../../migrations/20261123100200_entry_groups.js";
import * as accountPolicies from "../../migrations/20261123100300_account_policies.js";
import * as holds from "../../migrations/20261123100400_holds.js";
import * as ingestHeldIndexAndReopen from "../../migrations/20261123100500_ingest_held_index_and_reopen.js";
import * as entryBatches from "../../migrations/20261123100700_entry_batches.js";
import * as ingestRangeChecks from "../../migrations/20261123100800_ingest_range_checks.js";

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Listed here rather than read from the folder, so the same list works from TypeScript sources,
// from the compiled `dist/`, and inside the Docker image.
const migrations: ReadonlyMap<string, MigrationModule> = new Map([
  ["20261122000000_initial", initial],
  ["20261122000100_vendor_ingest", vendorIngest],
  ["20261123000000_poller_lease", pollerLease],
  ["20261123100000_entry_history", entryHistory],
  ["20261123100100_entry_as_of", entryAsOf],
  ["20261123100200_entry_groups", entryGroups],
  ["20261123100300_account_policies", accountPolicies],
  ["20261123100400_holds", holds],
  ["20261123100500_ingest_held_index_and_reopen", ingestHeldIndexAndReopen],
  ["20261123100700_entry_batches", entryBatches],
  ["20261123100800_ingest_range_checks", ingestRangeChecks],
]);

const source: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve([...migrations.keys()]),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const migration = migrations.get(name);
    if (migration === undefined) throw new Error(`unknown migration ${name}`);
    return Promise.resolve(migration);
  },
};

/** How long a process waits for another one's migration before giving up on start-up. */
const MIGRATION_LOCK_WAIT_MS = 60_000;
const MIGRATION_RETRY_DELAY_MS = 250;

/** Where to migrate: a SQLite file, or a PostgreSQL connection (URL plus TLS options). */
export type MigrationTarget =
  | { readonly dialect: "sqlite"; readonly filename: string }
  | { readonly dialect: "postgres"; readonly connection: Knex.PgConnectionConfig };

/** Brings the database to the newest schema; returns the names applied now. */
export async function migrateToLatest(target: MigrationTarget): Promise<string[]> {
  const knex =
    target.dialect === "sqlite"
      ? knexFactory({ client: "better-sqlite3", connection: { filename: target.filename }, useNullAsDefault: true })
      : // Two connections: knex holds its migration lock on one while it migrates on another.
        knexFactory({
          client: "pg",
          connection: target.connection,
          pool: { min: 0, max: 2 },
          acquireConnectionTimeout: 10_000,
        });
  const deadlineMs = Date.now() + MIGRATION_LOCK_WAIT_MS;
  try {
    for (;;) {
      try {
        if (target.dialect === "postgres") await createKnexTables(knex);
        const [, applied] = (await knex.migrate.latest({ migrationSource: source })) as [number, string[]];
        return applied;
      } catch (error) {
        if (!isConcurrentMigration(error) || Date.now() > deadlineMs) throw error;
        await sleep(MIGRATION_RETRY_DELAY_MS);
      }
    }
  } finally {
    await knex.destroy();
  }
}

/**
 * Creates knex's history and lock tables, with exactly one lock row, before knex looks for them.
 * Left to knex, processes starting together on an empty database could each insert a lock row;
 * with two rows knex's lock can never be taken again ("already locked" forever). The primary key
 * on the row's index makes a second row impossible here.
 */
async function createKnexTables(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE IF NOT EXISTS knex_migrations (
    id SERIAL PRIMARY KEY, name VARCHAR(255), batch INTEGER, migration_time TIMESTAMPTZ)`);
  await knex.raw(`CREATE TABLE IF NOT EXISTS knex_migrations_lock (index SERIAL PRIMARY KEY, is_locked INTEGER)`);
  await knex.raw(`INSERT INTO knex_migrations_lock (index, is_locked) VALUES (1, 0) ON CONFLICT DO NOTHING`);
}

/**
 * Another process holds the migration lock, or created knex's own tables at the same instant
 * (PostgreSQL reports concurrent CREATE TABLE IF NOT EXISTS as a duplicate key in its catalog,
 * or as a table or type that "already exists"): retrying sees its work. Bounded by `MIGRATION_LOCK_WAIT_MS`.
 */
function isConcurrentMigration(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === "MigrationLocked" || code === "23505" || code === "42P07" || code === "42710";
}

/**
 * Applies `migrations/` through knex. knex owns the schema and its history table; at run time
 * the store uses its own better-sqlite3 connection, because an async knex transaction holding
 * SQLite's write lock across an await would stall the synchronous writer.
 */
import knexFactory, { type Knex } from "knex";
import * as initial from "../../../migrations/20261122000000_initial.js";
import * as vendorIngest from "../../../migrations/20261122000100_vendor_ingest.js";

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Listed here rather than read from the folder, so the same list works from TypeScript sources,
// from the compiled `dist/`, and inside the Docker image.
const migrations: ReadonlyMap<string, MigrationModule> = new Map([
  ["20261122000000_initial", initial],
  ["20261122000100_vendor_ingest", vendorIngest],
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

/** Brings the database at `filename` to the newest schema; returns the names applied now. */
export async function migrateToLatest(filename: string): Promise<string[]> {
  const knex = knexFactory({
    client: "better-sqlite3",
    connection: { filename },
    useNullAsDefault: true,
  });
  try {
    const [, applied] = (await knex.migrate.latest({ migrationSource: source })) as [number, string[]];
    return applied;
  } finally {
    await knex.destroy();
  }
}

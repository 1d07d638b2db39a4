/**
 * Which database a migration runs on. Migrations branch on it where the SQL differs, so that one
 * history describes the schema of both stores.
 */
import type { Knex } from "knex";

export function isPostgres(knex: Knex): boolean {
  const client = (knex.client as { config?: { client?: unknown } }).config?.client;
  return client === "pg" || client === "postgres" || client === "postgresql";
}

/**
 * The PostgreSQL connection pool: sizes, timeouts and TLS from the configuration, and int8 read
 * as `bigint` so that money and ids never pass through a float.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import type { WriteBatchObserver } from "../../store.js";

/** How the store talks TLS to PostgreSQL. `verify-full` checks the certificate and host name. */
export type PostgresSsl = "disable" | "require" | "verify-full";

export interface PostgresStoreOptions {
  /** The commit time's clock (milliseconds since 1970); `Date.now` unless a test injects one. */
  readonly clockMs?: () => number;
  /** `postgres://user:password@host:port/database`; TLS is set by `ssl`, not in the URL. */
  readonly url: string;
  /** Most connections this process opens. */
  readonly poolMax: number;
  /** A statement running longer is cancelled, and its caller told the store is unavailable. */
  readonly statementTimeoutMs: number;
  /** How long to wait for a connection, from the pool or from the server. */
  readonly connectTimeoutMs: number;
  readonly ssl: PostgresSsl;
  /** PEM file of the CA that signed the server's certificate, for `verify-full`; empty: the system's. */
  readonly sslCaFile: string;
  /** Told of every committed write batch, for the metrics. */
  readonly writeObserver?: WriteBatchObserver;
  /** How often a waiting stream reads the horizon, in milliseconds (see `entry-feed.ts`). */
  readonly streamPollIntervalMs?: number;
  /** Most mutations in one transaction. */
  readonly batchSizeMax: number;
  /** Most mutations waiting for a transaction before callers are turned away. */
  readonly queueDepthMax: number;
}

const INT8_OID = 20;
const builtInParser = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => (value: string) => unknown;

/** pg's type parsers with int8 (BIGINT, COUNT) read as `bigint` instead of a string. */
export const BIGINT_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID ? (value: string) => BigInt(value) : builtInParser(oid, format)) as typeof pg.types.getTypeParser,
};

function sslOption(options: PostgresStoreOptions): pg.PoolConfig["ssl"] {
  switch (options.ssl) {
    case "disable":
      return false;
    case "require":
      // Encrypted, but the server's identity is not checked: as libpq's sslmode=require.
      return { rejectUnauthorized: false };
    case "verify-full":
      return options.sslCaFile === ""
        ? { rejectUnauthorized: true }
        : { rejectUnauthorized: true, ca: readFileSync(options.sslCaFile, "utf8") };
  }
}

export function createPool(options: PostgresStoreOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: "ledger",
    ssl: sslOption(options),
    types: BIGINT_TYPES,
  });
  // An idle connection that the server drops emits here; the next query reconnects. Without a
  // listener the process would crash on it.
  pool.on("error", () => undefined);
  return pool;
}

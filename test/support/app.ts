/**
 * Starts the real service for a test: a fresh SQLite file in a temporary folder (or a fresh
 * PostgreSQL database, for `store: "postgres"`), port 0 on loopback, logs silenced. `stop()` shuts it down gracefully and checks that no connection
 * was left open, so leaks fail the suite instead of hanging it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { build, type App, type BuildOptions } from "../../src/server.js";
import { databaseFor, type StoreKind } from "./stores.js";

export interface TestApp {
  readonly app: App;
  readonly config: Config;
  /** host:port for gRPC clients. */
  readonly address: string;
  /** http://host:port for fetch. */
  readonly baseUrl: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startApp(
  env: Record<string, string> = {},
  store: StoreKind = "sqlite",
  options: BuildOptions = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-test-"));
  const config = readConfig({
    LEDGER_PORT: "0",
    LEDGER_DB: await databaseFor(store, dir),
    LEDGER_LOG_LEVEL: "silent",
    ...env,
  });
  const app = await build(config, createLogger(config.logLevel), options);
  const { port } = await app.listen();
  return {
    app,
    config,
    dir,
    address: `127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop() {
      await app.shutdown();
      const open = app.listener.connectionCount;
      rmSync(dir, { recursive: true, force: true });
      if (open !== 0) throw new Error(`${open} connection(s) still open after shutdown`);
    },
  };
}

/**
 * The entry point: read the configuration, build the service, listen, and shut down gracefully
 * on SIGTERM or SIGINT.
 */
// First: refuses an unsupported Node before any module can open a database.
import "./node-version.js";
import { isPrimary, runPrimary } from "./cluster.js";
import { ConfigError, describeDatabase, readConfig, type Config } from "./config.js";
import { createLogger, flushLogsOnCrash, flushLogsSync } from "./logger.js";
import { build } from "./server.js";

/** The exit status after a fail-stop: EX_TEMPFAIL, "try again" (a restart recovers). */
const FAIL_STOP_EXIT_CODE = 75;

function loadConfig(): Config {
  try {
    return readConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  flushLogsOnCrash(logger);
  if (config.workers > 1 && isPrimary()) {
    logger.info(
      { workers: config.workers, db: describeDatabase(config) },
      `starting ${config.workers} service processes`,
    );
    runPrimary(config.workers, logger);
    return;
  }
  // After a failed commit the store refuses writes; the process stops so that its supervisor
  // restarts it and recovery, not this process's memory, decides what was committed.
  const app = await build(config, logger, {
    onFailStop: () => {
      void app.shutdown().finally(() => logger.flush(() => process.exit(FAIL_STOP_EXIT_CODE)));
    },
  });
  const address = await app.listen();
  logger.info(
    {
      host: address.address,
      port: address.port,
      db: describeDatabase(config),
      durability: config.durability,
      node: process.version,
    },
    `ledger listening on ${address.address}:${address.port} (gRPC, gRPC-Web and Connect)`,
  );

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      flushLogsSync(logger);
      process.exit(1);
    }
    logger.info({ signal }, "shutting down");
    app.shutdown().then(
      () => {
        logger.info("shut down cleanly");
        logger.flush(() => process.exit(0));
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

main().catch((error: unknown) => {
  console.error("ledger failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});

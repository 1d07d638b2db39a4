/**
 * The entry point: read the configuration, build the service, listen, and shut down gracefully
 * on SIGTERM or SIGINT.
 */
import { isPrimary, runPrimary } from "./cluster.js";
import { ConfigError, describeDatabase, readConfig, type Config } from "./config.js";
import { createLogger } from "./logger.js";
import { build } from "./server.js";

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
  if (config.workers > 1 && isPrimary()) {
    logger.info({ workers: config.workers, db: describeDatabase(config) }, `starting ${config.workers} service processes`);
    runPrimary(config.workers, logger);
    return;
  }
  const app = await build(config, logger);
  const address = await app.listen();
  logger.info(
    { host: address.address, port: address.port, db: describeDatabase(config), durability: config.durability, node: process.version },
    `ledger listening on ${address.address}:${address.port} (gRPC, gRPC-Web and Connect)`,
  );

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      logger.flush();
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

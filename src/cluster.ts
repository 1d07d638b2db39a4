/**
 * LEDGER_WORKERS=N: N service processes sharing one port through node:cluster, the way to use
 * more than one core. Only with PostgreSQL, where every process works on the same database
 * under row locks (config refuses it for SQLite). The primary process serves nothing: it
 * starts the workers, restarts one that dies (at most `RESTARTS_PER_MINUTE_MAX` a minute, then
 * it gives up and exits so that its own supervisor notices), and passes SIGTERM on for a
 * graceful shutdown of all of them. SIGINT is not passed on: a terminal's Ctrl-C already reaches
 * every process of the group, and a second one would make a worker exit at once.
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "./logger.js";

const RESTARTS_PER_MINUTE_MAX = 10;

export function runPrimary(workers: number, logger: Logger): void {
  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => cluster.fork();
  for (let index = 0; index < workers; index += 1) fork();

  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info("all workers stopped");
        logger.flush(() => process.exit(0));
      }
      return;
    }
    const nowMs = Date.now();
    while (restarts.length > 0 && (restarts[0] ?? 0) < nowMs - 60_000) restarts.shift();
    if (restarts.length >= RESTARTS_PER_MINUTE_MAX) {
      logger.fatal({ pid: worker.process.pid, code, signal }, "workers keep dying; giving up");
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.kill("SIGTERM");
      logger.flush(() => process.exit(1));
      return;
    }
    restarts.push(nowMs);
    logger.warn({ pid: worker.process.pid, code, signal }, "a worker died; starting another");
    fork();
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers }, "shutting down every worker");
    if (signal === "SIGTERM")
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

export const isPrimary = (): boolean => cluster.isPrimary;

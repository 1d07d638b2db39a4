/**
 * Structured JSON logs on stdout (pino). The default level (info) writes one access-log line per
 * call, so a line must cost next to nothing:
 *
 * - writes are asynchronous and batched: lines collect in memory and leave in one write system
 *   call per `LOG_WRITE_MIN_BYTES` (about 30 access-log lines), never on a call's path, and at
 *   the latest `LOG_FLUSH_INTERVAL_MS` after they were logged, so a quiet service's lines are
 *   not held until the buffer fills;
 * - the buffer is bounded (`LOG_BUFFER_MAX_BYTES`): if stdout stalls, lines are dropped and
 *   counted rather than growing memory without limit, and the count goes to stderr;
 * - what is buffered is flushed at shutdown (`flushLogs`), at exit, and on a crash (an uncaught
 *   exception's own line is written synchronously before Node exits);
 * - the timestamp string is made once per millisecond, not once per line.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Lines are written in chunks of at least this many bytes. */
export const LOG_WRITE_MIN_BYTES = 4096;
/** The longest a line waits in the buffer before it is written, however few follow it. */
export const LOG_FLUSH_INTERVAL_MS = 250;
/** Most bytes of lines waiting to be written; past it new lines are dropped and counted. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
/** How often, at most, dropped lines are reported on stderr. */
const DROP_REPORT_INTERVAL_MS = 10_000;

type Destination = ReturnType<typeof pino.destination>;

const destinations = new WeakMap<Logger, Destination>();

/** `,"time":"2026-11-23T16:50:00.000Z"`, as pino.stdTimeFunctions.isoTime writes it, cached per millisecond. */
function isoTimeCached(): () => string {
  let lastMs = -1;
  let last = "";
  return () => {
    const nowMs = Date.now();
    if (nowMs !== lastMs) {
      lastMs = nowMs;
      last = `,"time":"${new Date(nowMs).toISOString()}"`;
    }
    return last;
  };
}

function reportDrops(destination: Destination): void {
  let droppedLines = 0;
  let timer: NodeJS.Timeout | undefined;
  destination.on("drop", () => {
    droppedLines += 1;
    timer ??= setTimeout(() => {
      process.stderr.write(
        `ledger: log buffer full (${LOG_BUFFER_MAX_BYTES} bytes): dropped ${droppedLines} log lines\n`,
      );
      droppedLines = 0;
      timer = undefined;
    }, DROP_REPORT_INTERVAL_MS).unref();
  });
}

export function createLogger(level: string): Logger {
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_WRITE_MIN_BYTES,
    maxLength: LOG_BUFFER_MAX_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  reportDrops(destination);
  const logger = pino(
    {
      level,
      base: { service: "ledger" },
      timestamp: isoTimeCached(),
      // Bearer tokens and API keys must never reach a log line, whatever logs them.
      redact: { paths: ["authorization", "*.authorization", "token", "*.token"], censor: "[redacted]" },
    },
    destination,
  );
  destinations.set(logger, destination);
  return logger;
}

/**
 * Writes what is buffered now, synchronously: for the last lines before an exit. (pino also
 * flushes at a normal exit; this covers an exit that skips it.)
 */
export function flushLogsSync(logger: Logger): void {
  const destination = destinations.get(logger);
  try {
    destination?.flushSync();
  } catch {
    // A stdout that cannot take the lines now will not take them later either.
  }
}

/**
 * Logs an uncaught exception (a programmer's bug: the process still crashes, as Node would make
 * it) and flushes every line buffered before it, so that the crash and what led to it are on
 * record.
 */
export function flushLogsOnCrash(logger: Logger): void {
  process.once("uncaughtExceptionMonitor", (error, origin) => {
    logger.fatal({ err: error, origin }, "crashed");
    flushLogsSync(logger);
  });
}

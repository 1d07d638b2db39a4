/**
 * Structured JSON logs on stdout (pino). The default level (info) writes one access-log line per
 * call, so a line must cost next to nothing:
 *
 * - lines go to a `LogSink` (src/log-sink.ts): copied into 64 KiB chunks and written off the event
 *   loop, one write per few hundred lines, at the latest 250 ms after they were logged; bounded
 *   (if stdout stalls, lines are dropped and counted on stderr rather than growing memory);
 * - what is buffered is flushed at shutdown (`flushLogs`), at exit, and on a crash (an uncaught
 *   exception's own line is written synchronously before Node exits);
 * - access-log lines are formatted here, as pino would write them, without pino's per-line
 *   object and serializer work (`accessLine`);
 * - the timestamp string is made once per millisecond, not once per line.
 */
import { pino, type Logger } from "pino";
import { LogSink } from "./log-sink.js";

export type { Logger };

const sinks = new WeakMap<Logger, LogSink>();
const BASE = { service: "ledger" };

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

const isoTime = isoTimeCached();

/** The service's logger, writing to `fd` (stdout unless a test gives another). */
export function createLogger(level: string, fd = 1): Logger {
  const sink = new LogSink(fd);
  const logger = pino(
    {
      level,
      base: BASE,
      timestamp: isoTime,
      // Bearer tokens and API keys must never reach a log line, whatever logs them.
      redact: { paths: ["authorization", "*.authorization", "token", "*.token"], censor: "[redacted]" },
    },
    sink,
  );
  sinks.set(logger, sink);
  return logger;
}

/** Writes one access-log line; see `accessLine`. */
export type AccessLineWriter = (code: string, durationMs: number) => void;

/**
 * A writer of the access-log lines of one method, or undefined when `logger` was not made by
 * `createLogger` (then the caller logs through pino). The line is what pino writes for
 * `logger.child({ method }).info({ code, durationMs }, "call")`: `{"level":30,"time":"…",
 * "service":"ledger","method":"…","code":"OK","durationMs":0.8,"msg":"call"}`. It carries no caller
 * data (the method's name, a code name and a number), so there is nothing to redact or escape.
 */
export function accessLineWriter(logger: Logger, method: string): AccessLineWriter | undefined {
  const sink = sinks.get(logger);
  if (sink === undefined) return undefined;
  const level = pino.levels.values.info;
  const head = `{"level":${level}`;
  const middle = `,"service":${JSON.stringify(BASE.service)},"method":${JSON.stringify(method)},"code":"`;
  return (code, durationMs) => {
    if (logger.isLevelEnabled("info")) {
      sink.write(`${head}${isoTime()}${middle}${code}","durationMs":${durationMs},"msg":"call"}\n`);
    }
  };
}

/**
 * Writes what is buffered now, synchronously: for the last lines before an exit. (pino also
 * flushes at a normal exit; this covers an exit that skips it.)
 */
export function flushLogsSync(logger: Logger): void {
  try {
    sinks.get(logger)?.flushSync();
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

/**
 * Structured JSON logs on stdout (pino). Writes are asynchronous so that logging one line per
 * call does not put a write system call on every request; `flush` runs at shutdown.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: "ledger" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Bearer tokens and API keys must never reach a log line, whatever logs them.
      redact: { paths: ["authorization", "*.authorization", "token", "*.token"], censor: "[redacted]" },
    },
    pino.destination({ dest: 1, sync: false, minLength: 4096 }),
  );
}

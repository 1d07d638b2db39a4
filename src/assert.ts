/**
 * Assertions for invariants that correct code never breaks (the store's append, the batch loop,
 * the account fold). A broken one means the process can no longer trust its own state, so it
 * stops at once and loudly, for its supervisor to restart it from the database, instead of
 * answering INTERNAL and carrying on with whatever state caused it. Operating errors (bad input,
 * a full disk) are never asserted: they are handled and returned.
 */
import { writeSync } from "node:fs";

/** The exit status of a broken invariant: EX_SOFTWARE, "internal software error". */
export const ASSERTION_EXIT_CODE = 70;

/** Stops the process when `condition` is false. `message` says which invariant broke. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) failInvariant(message);
}

/** Logs a fatal line and exits with `ASSERTION_EXIT_CODE`; never returns. */
export function failInvariant(message: string): never {
  const line = {
    level: 60,
    time: new Date().toISOString(),
    service: "ledger",
    msg: `invariant broken, stopping: ${message}`,
    stack: new Error(message).stack,
  };
  // Written synchronously: the asynchronous logger would lose the line when the process exits.
  try {
    writeSync(2, `${JSON.stringify(line)}\n`);
  } finally {
    process.exit(ASSERTION_EXIT_CODE);
  }
}

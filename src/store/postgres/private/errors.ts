/**
 * PostgreSQL failures, classified once: retry inside the store (serialization failure,
 * deadlock), or tell the caller the store is unavailable with a message that carries no SQL
 * and says whether the write may have been applied.
 */
import { StoreUnavailableError } from "../../errors.js";

/** SQLSTATEs after which the whole transaction may simply run again. */
const RETRYABLE_CODES = new Set(["40001", "40P01"]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** Where a write failed: before COMMIT was sent nothing applied; during it the outcome is unknown. */
export type WritePhase = "before-commit" | "commit";

export function describeFailure(error: unknown, phase: WritePhase | "read"): string {
  const code = codeOf(error) ?? "";
  // A server that answers COMMIT with an error has rolled back; only a connection lost before
  // its answer leaves the outcome unknown.
  if (phase === "commit" && !isSqlState(code)) {
    return "the ledger lost its database while committing; the write may have been applied: retry with the same idempotency key";
  }
  const what = phase === "read" ? "the read failed" : "the write was not applied";
  if (code === "57014") return `the ledger's database did not answer in time; ${what}`;
  if (code === "53300" || code === "53400") return `the ledger's database refused more connections; ${what}`;
  if (code.startsWith("53")) return `the ledger's database is out of resources; ${what}`;
  if (code.startsWith("08") || code.startsWith("57P") || code.startsWith("E") || code === "") {
    return `the ledger's database is unreachable; ${what}`;
  }
  if (isRetryable(error)) return `the ledger's database stayed too contended; ${what}`;
  return phase === "read"
    ? "the ledger could not read its database"
    : "the ledger could not commit; the write was not applied";
}

export function unavailable(error: unknown, phase: WritePhase | "read"): StoreUnavailableError {
  return error instanceof StoreUnavailableError
    ? error
    : new StoreUnavailableError(describeFailure(error, phase), { cause: error });
}

/** A SQLSTATE: the server answered. Node's socket errors (EPIPE, ECONNRESET) start with E. */
function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code) && !code.startsWith("E");
}

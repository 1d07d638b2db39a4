/**
 * Runs a function in one PostgreSQL transaction on a pooled connection, again from the start
 * after a serialization failure or a deadlock (up to `TRANSACTION_ATTEMPTS_MAX`), so that no
 * caller ever sees one. Any other failure rolls back and surfaces as `StoreUnavailableError`
 * (or, if the function threw one of the store's own errors, that error).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { isRetryable, unavailable, type WritePhase } from "./errors.js";

/** How many times one transaction runs before its callers are told the store is unavailable. */
export const TRANSACTION_ATTEMPTS_MAX = 8;
const RETRY_DELAY_BASE_MS = 2;

/** Errors of our own (a lost lease) pass through untouched; they carry no driver text. */
export type PassThrough = (error: unknown) => boolean;

export interface TransactionOptions {
  readonly isolation?: "read committed" | "repeatable read";
  readonly readOnly?: boolean;
  readonly passThrough?: PassThrough;
  /** Called once the transaction committed: its whole duration and its COMMIT's, in milliseconds. */
  readonly onCommitted?: (transactionMs: number, commitMs: number) => void;
}

export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    let phase: WritePhase = "before-commit";
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      const startedAt = performance.now();
      const mode = `ISOLATION LEVEL ${(options.isolation ?? "read committed").toUpperCase()}${options.readOnly === true ? " READ ONLY" : ""}`;
      await client.query(`BEGIN ${mode}`);
      const result = await work(client);
      phase = "commit";
      const commitStartedAt = performance.now();
      await client.query("COMMIT");
      client.release();
      const committedAt = performance.now();
      try {
        options.onCommitted?.(committedAt - startedAt, committedAt - commitStartedAt);
      } catch {
        // The batch is durable: a failing metrics observer must not turn it into a failed write.
      }
      return result;
    } catch (error) {
      const broken = await rollback(client, phase);
      client?.release(broken ? true : undefined);
      if (options.passThrough?.(error) === true) throw error;
      if (isRetryable(error) && attempt < TRANSACTION_ATTEMPTS_MAX) {
        // Jittered, growing pauses let the transactions that collided finish in some order.
        await sleep(RETRY_DELAY_BASE_MS * 2 ** attempt * Math.random());
        continue;
      }
      throw unavailable(error, options.readOnly === true ? "read" : phase);
    }
  }
}

/** Rolls back; answers true when the connection itself is broken and must not be reused. */
async function rollback(client: pg.PoolClient | undefined, phase: WritePhase): Promise<boolean> {
  if (client === undefined) return false;
  // COMMIT failed: an answered one has already rolled back; an unanswered one left a broken link.
  if (phase === "commit") return true;
  try {
    await client.query("ROLLBACK");
    return false;
  } catch {
    return true;
  }
}

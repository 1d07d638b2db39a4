/**
 * Prototype only (bench/store-worker/): a minimal durable writer, the same shape of work as the
 * ledger's group commit (one `BEGIN IMMEDIATE` per batch, WAL, `synchronous = FULL`, one entry
 * row and one balance update per mutation, a debit refused when the balance would go below
 * zero), used to compare an in-thread writer with one on its own worker thread. It is not the
 * ledger's store (src/store is being reshaped elsewhere) and nothing in src/ imports it.
 */
import Database from "better-sqlite3";

/** What a refused debit answers instead of a balance. */
export const REFUSED = -1n;

export interface BatchWriter {
  /** Applies the batch in one durable transaction; answers each mutation's balance after, or REFUSED. */
  apply(userIds: readonly string[], amounts: BigInt64Array): BigInt64Array;
  close(): void;
}

export function openWriter(filename: string): BatchWriter {
  const db = new Database(filename);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.defaultSafeIntegers(true);
  db.exec(`CREATE TABLE IF NOT EXISTS accounts (user_id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL);`);
  const read = db.prepare("SELECT balance FROM accounts WHERE user_id = ?").pluck();
  const upsert = db.prepare(
    "INSERT INTO accounts (user_id, balance) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance",
  );
  const insert = db.prepare("INSERT INTO entries (user_id, amount, created_at) VALUES (?, ?, ?)");
  const batch = db.transaction((userIds: readonly string[], amounts: BigInt64Array, results: BigInt64Array) => {
    const nowMs = BigInt(Date.now());
    for (let index = 0; index < userIds.length; index++) {
      const userId = userIds[index] as string;
      const amount = amounts[index] as bigint;
      const after = ((read.get(userId) as bigint | undefined) ?? 0n) + amount;
      if (after < 0n) {
        results[index] = REFUSED;
        continue;
      }
      upsert.run(userId, after);
      insert.run(userId, amount, nowMs);
      results[index] = after;
    }
  });
  return {
    apply: (userIds, amounts) => {
      const results = new BigInt64Array(userIds.length);
      batch.immediate(userIds, amounts, results);
      return results;
    },
    close: () => db.close(),
  };
}

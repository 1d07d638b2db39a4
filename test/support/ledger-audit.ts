/**
 * Reads a ledger database directly, read-only, beside a running (or crashed) service: the
 * entries by idempotency key and the `verifyLedger` audit, so tests judge the file itself and
 * not what the service says about it.
 */
import Database from "better-sqlite3";
import { verifyLedger, type VerifyReport } from "../../src/domain/verify.js";
import { toAccount, toEntry, type AccountRow, type EntryRow } from "../../src/store/sqlite/rows.js";
import type { Entry } from "../../src/store/store.js";

export interface LedgerSnapshot {
  readonly report: VerifyReport;
  /** Entries with an idempotency key, by `${userId} ${key}`. */
  readonly entriesByKey: Map<string, Entry>;
  /** Balance per `${userId} ${currency}`, as the accounts table holds it. */
  readonly balances: Map<string, bigint>;
}

export function keyOf(userId: string, idempotencyKey: string): string {
  return `${userId} ${idempotencyKey}`;
}

/** One read transaction over the whole file: entries, accounts and the audit at one instant. */
export function auditLedger(dbPath: string): LedgerSnapshot {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    db.pragma("busy_timeout = 5000");
    return db.transaction(() => {
      const entries = (db.prepare("SELECT * FROM entries ORDER BY id").all() as EntryRow[]).map(toEntry);
      const accounts = (db.prepare("SELECT * FROM accounts ORDER BY user_id, currency").all() as AccountRow[]).map(toAccount);
      const entriesByKey = new Map<string, Entry>();
      for (const entry of entries) {
        if (entry.idempotencyKey === null) continue;
        const key = keyOf(entry.userId, entry.idempotencyKey);
        if (entriesByKey.has(key)) throw new Error(`idempotency key ${key} recorded twice`);
        entriesByKey.set(key, entry);
      }
      const balances = new Map(accounts.map((account) => [`${account.userId} ${account.currency}`, account.balance]));
      return { report: verifyLedger(entries, accounts), entriesByKey, balances };
    })();
  } finally {
    db.close();
  }
}

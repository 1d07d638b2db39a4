/**
 * `npm run verify`: recomputes every balance from the entries and exits non-zero on any
 * mismatch. Safe to run beside the live service: it only reads, from a WAL snapshot.
 */
// First: refuses an unsupported Node before any module can open a database.
import "../node-version.js";
import { readConfig, storeOptions } from "../config.js";
import { verifyLedger } from "../domain/verify.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";

const config = readConfig(process.env);
const store = await SqliteStore.open(storeOptions(config));
try {
  // One read transaction, so entries and accounts come from the same instant.
  const report = store.db.transaction(() => verifyLedger(store.iterateEntries(), store.iterateAccounts()))();
  for (const mismatch of report.mismatches) {
    console.error(`MISMATCH ${mismatch.userId} ${mismatch.currency}: ${mismatch.problem}`);
  }
  console.log(
    `verified ${report.entriesChecked} entries and ${report.accountsChecked} accounts in ${config.dbPath}: ` +
      (report.mismatches.length === 0 ? "OK" : `${report.mismatches.length} mismatch(es)`),
  );
  process.exitCode = report.mismatches.length === 0 ? 0 : 1;
} finally {
  await store.close();
}

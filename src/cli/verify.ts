/**
 * `npm run verify`: recomputes every balance from the entries and exits non-zero on any
 * mismatch. Safe to run beside the live service: it only reads, from one snapshot (SQLite's
 * WAL, PostgreSQL's REPEATABLE READ).
 */
// First: refuses an unsupported Node before any module can open a database.
import "../node-version.js";
import { describeDatabase, readConfig, storeOptions } from "../config.js";
import { verifyLedger } from "../domain/verify.js";
import { openStore } from "../store/open.js";

const config = readConfig(process.env);
const store = await openStore(storeOptions(config));
try {
  // One snapshot, so entries and accounts come from the same instant.
  const report = await store.withSnapshot(verifyLedger);
  for (const mismatch of report.mismatches) {
    console.error(`MISMATCH ${mismatch.userId} ${mismatch.currency}: ${mismatch.problem}`);
  }
  console.log(
    `verified ${report.entriesChecked} entries and ${report.accountsChecked} accounts in ${describeDatabase(config)}: ` +
      (report.mismatches.length === 0 ? "OK" : `${report.mismatches.length} mismatch(es)`),
  );
  process.exitCode = report.mismatches.length === 0 ? 0 : 1;
} finally {
  await store.close();
}

/**
 * `npm run ingest`: a one-shot backfill. It reads LEDGER_DB and LEDGER_VENDOR_* like the
 * service, closes every window older than the lateness bound, reads the newest minutes once,
 * prints the poller's status as JSON, and exits. Safe to kill at any instant and run again; safe
 * to run while the service runs: only one poller per database is active (the lease), so while
 * the service's poller holds it this run waits a little for it to free up, then exits.
 */
import { pino } from "pino";
import { readConfig, storeOptions } from "../config.js";
import { runVendorBackfill } from "../ingest/poller.js";
import { openStore } from "../store/open.js";

const config = readConfig(process.env);
const vendorConfig = config.vendor;
if (vendorConfig === undefined) {
  console.error("LEDGER_VENDOR_URL is not set: there is no vendor to ingest from");
  process.exit(2);
}
const logger = pino({ level: config.logLevel });
const store = await openStore(storeOptions(config));
const startedAtMs = Date.now();
const status = await runVendorBackfill({ store, config: vendorConfig, logger });
await store.close();
const seconds = (Date.now() - startedAtMs) / 1000;
console.log(JSON.stringify({ ...status, seconds, rowsPerSecond: Math.round(status.rowsIngested / seconds) }));

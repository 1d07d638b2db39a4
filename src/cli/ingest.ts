/**
 * `npm run ingest`: a one-shot backfill. It reads LEDGER_DB and LEDGER_VENDOR_* like the
 * service, closes every window older than the lateness bound, reads the newest minutes once,
 * prints the poller's status as JSON, and exits. Safe to kill at any instant and run again; safe
 * to run while the service runs: only one poller per database is active (the lease), so while
 * the service's poller holds it this run waits a little for it to free up, then exits.
 *
 * `npm run ingest -- --reopen FROM TO` reads [FROM, TO) again now and applies what was missed
 * (each row once); `--reconcile FROM TO` count-checks the range against the vendor and prints the
 * windows whose counts differ, writing nothing. Both go through the lease and the shared budget.
 * Beside a running service (which holds the lease), either is queued for the service's poller,
 * and the command waits up to `--wait SECONDS` (default 600) for it to be done; it then prints
 * the request with its id and what was found (exit 0), or, if the wait ran out, the request still
 * queued (exit 1; `--wait 0` only queues it, exit 0).
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { readConfig, storeOptions } from "../config.js";
import { runVendorBackfill, type RangeTask } from "../ingest/poller.js";
import { reopenOrQueue } from "../ingest/reopen-request.js";
import { parseInstantMs } from "../ingest/vendor-row.js";
import { openStore } from "../store/open.js";

const config = readConfig(process.env);
const vendorConfig = config.vendor;
if (vendorConfig === undefined) {
  console.error("LEDGER_VENDOR_URL is not set: there is no vendor to ingest from");
  process.exit(2);
}
const { values, positionals } = parseArgs({
  options: {
    reopen: { type: "boolean", default: false },
    reconcile: { type: "boolean", default: false },
    wait: { type: "string", default: "600" },
  },
  allowPositionals: true,
});
let task: RangeTask | undefined;
if (values.reopen || values.reconcile) {
  const [fromText = "", toText = ""] = positionals;
  const startMs = parseInstantMs(fromText);
  const endMs = parseInstantMs(toText);
  if (values.reopen === values.reconcile || positionals.length !== 2 || startMs === undefined || endMs === undefined) {
    console.error("usage: npm run ingest -- --reopen|--reconcile FROM TO (ISO 8601 instants, FROM before TO)");
    process.exit(2);
  }
  if (endMs - startMs < 1000) {
    console.error("FROM must be at least a second before TO");
    process.exit(2);
  }
  task = { type: values.reopen ? "reopen" : "reconcile", startMs, endMs };
}
const waitSeconds = Number(values.wait);
if (!/^\d+$/.test(values.wait) || !Number.isSafeInteger(waitSeconds)) {
  console.error(`--wait must be a whole number of seconds, got "${values.wait}"`);
  process.exit(2);
}
const logger = pino({ level: config.logLevel });
const store = await openStore(storeOptions(config));
if (task !== undefined) {
  const outcome = await reopenOrQueue({ store, config: vendorConfig, logger }, task, waitSeconds * 1000);
  await store.close();
  if (outcome.type === "queued") {
    // The service's poller did it (or will): print the request, done or still queued. A wait that
    // ran out exits 1 (the service still carries the request out; its id is printed); --wait 0
    // only queues it.
    const { request } = outcome;
    const { check, ...fields } = request;
    console.log(
      JSON.stringify({ task: task.type, queued: true, done: request.doneAtMs !== null, ...fields, ...check }),
    );
    process.exit(request.doneAtMs === null && waitSeconds > 0 ? 1 : 0);
  }
  const { status, differences } = outcome;
  const found = task.type === "reconcile" ? { differences } : {};
  console.log(JSON.stringify({ task: task.type, queued: false, ...status, ...found }));
  process.exit(status.lastError === null ? 0 : 1);
}
const startedAtMs = Date.now();
const status = await runVendorBackfill({ store, config: vendorConfig, logger });
await store.close();
const seconds = (Date.now() - startedAtMs) / 1000;
console.log(JSON.stringify({ ...status, seconds, rowsPerSecond: Math.round(status.rowsIngested / seconds) }));

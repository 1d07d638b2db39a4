/**
 * `npm run torture -- --kills 200`: the long crash campaign, for a release or after a change to
 * the store. Same checks as the CI test (test/e2e/crash-recovery.test.ts), many more kills;
 * prints one line per kill and the figures at the end, exits non-zero on the first violation.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runCrashCampaign } from "../support/crash-campaign.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "200" },
    clients: { type: "string", default: "4" },
    keep: { type: "boolean", default: false },
  },
});
const kills = Number(values.kills);
const clients = Number(values.clients);
if (!Number.isSafeInteger(kills) || kills < 1 || !Number.isSafeInteger(clients) || clients < 1) {
  console.error("usage: npm run torture -- [--kills 200] [--clients 4] [--keep]");
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "ledger-torture-"));
const startedAt = Date.now();
try {
  const figures = await runCrashCampaign({
    dbPath: join(dir, "ledger.db"),
    kills,
    clients,
    callsInFlightPerClient: 8,
    users: 8,
    runBeforeKillMs: [20, 1500],
    log: (line) => console.log(line),
  });
  console.log(JSON.stringify({ ...figures, seconds: Math.round((Date.now() - startedAt) / 1000) }, null, 2));
  console.log("torture: OK");
} catch (error) {
  console.error(`torture: FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  if (values.keep) console.log(`database kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

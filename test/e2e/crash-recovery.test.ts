/**
 * The short crash campaign that CI runs on every change: the real service in a child process,
 * SIGKILLed at random instants under keyed load from several clients, restarted on the same
 * database each time: a SQLite file, or a PostgreSQL database that keeps running while the
 * service dies. `npm run torture` runs the same campaign for longer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import { runCrashCampaign } from "../support/crash-campaign.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

for (const store of STORE_KINDS)
  describe(`crash recovery (SIGKILL under load, restart, verify) on ${store}`, function () {
    this.timeout(180_000);
    let dir: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), "ledger-crash-"));
    });

    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it("keeps every acknowledged mutation exactly once, half-applies nothing, and verifies after every kill", async () => {
      const dbPath = await databaseFor(store, dir);
      const figures = await runCrashCampaign({
        dbPath,
        kills: 8,
        clients: 4,
        callsInFlightPerClient: 8,
        users: 6,
        runBeforeKillMs: [50, 700],
      });
      console.log(`      crash campaign: ${JSON.stringify(figures)}`);
      expect(figures.kills).to.equal(8);
      // The campaign proves something only if kills landed while calls were in flight.
      expect(figures.killsWithCallsInFlight).to.be.at.least(6);
      expect(figures.callsAcknowledged).to.be.greaterThan(100);
      expect(figures.outcomesHiddenByKill).to.be.greaterThan(0);

      const verify = spawnSync(process.execPath, ["--import", "tsx", "src/cli/verify.ts"], {
        env: { ...process.env, LEDGER_DB: dbPath },
        encoding: "utf8",
      });
      expect(verify.status, verify.stderr).to.equal(0);
      expect(verify.stdout).to.match(/verified \d+ entries and \d+ accounts .*: OK/);
    });
  });

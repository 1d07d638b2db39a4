/**
 * Expiry with two sweepers on one database, as two service processes would run them (two stores,
 * each with its own connection or pool, on both store kinds): on a manual clock, every due hold is
 * released exactly once, holds not yet due stay held, and `verify` agrees with the result.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { Ledger } from "../../src/domain/ledger.js";
import { decideLoad } from "../../src/domain/rules.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { ExpirySweeper } from "../../src/holds/expiry-sweeper.js";
import { createLogger } from "../../src/logger.js";
import { openStore } from "../../src/store/open.js";
import type { LedgerStore } from "../../src/store/store.js";
import { ManualClock } from "../support/manual-clock.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

const HOLDS = 300;
const MINUTE_MS = 60_000;

for (const kind of STORE_KINDS)
  describe(`hold expiry with two sweepers on one database, on ${kind}`, function () {
    this.timeout(120_000);
    let dir: string;
    let stores: LedgerStore[];
    const clock = new ManualClock();

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-hold-expiry-"));
      const settings = storeOptions(readConfig({ LEDGER_DB: await databaseFor(kind, dir) }));
      const first = await openStore(settings, { clockMs: () => clock.nowMs() });
      stores = [first, await openStore(settings, { clockMs: () => clock.nowMs() })];
    });

    after(async () => {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("releases every due hold exactly once and leaves the others held", async () => {
      const settings = { ttlDefaultMs: MINUTE_MS, ttlMaxMs: 10 * MINUTE_MS, overcaptureBps: 0n };
      const ledgers = stores.map(
        (store) => new Ledger(store, { defaultCurrency: "USD", holds: settings, clockMs: () => clock.nowMs() }),
      );
      const [ledger] = ledgers;
      if (ledger === undefined) throw new Error("no ledger");
      const users = Array.from({ length: 10 }, (_, index) => `u${index}`);
      for (const userId of users) {
        await stores[0]?.mutate({
          account: { userId, currency: "USD" },
          idempotencyKey: null,
          decide: decideLoad(10_000n),
        });
      }
      // Two thirds expire after a minute, a third after ten.
      const placed = await Promise.all(
        Array.from({ length: HOLDS }, (_, index) =>
          ledger.holds.authorize({
            userId: users[index % users.length] ?? "u0",
            currency: "USD",
            amount: BigInt((index % 9) + 1),
            idempotencyKey: null,
            expiry: { ttlMs: index % 3 === 0 ? 10 * MINUTE_MS : MINUTE_MS },
          }),
        ),
      );
      expect(placed.every((outcome) => outcome.ok && outcome.value.hold !== undefined)).to.equal(true);
      const sweepers = ledgers.map(
        (each) =>
          new ExpirySweeper(
            each.holds,
            clock,
            { sweepIntervalMs: 5 * MINUTE_MS, sweepBatchMax: 50 },
            createLogger("silent"),
          ),
      );
      for (const sweeper of sweepers) sweeper.start();
      clock.advance(MINUTE_MS);
      // Batches of 50: each sweep that filled its batch wakes again at once, until none is due.
      for (let round = 0; round < 20; round += 1) {
        await Promise.all(sweepers.map((sweeper) => sweeper.settled()));
        clock.advance(0);
      }
      await Promise.all(sweepers.map((sweeper) => sweeper.stop()));
      const due = HOLDS - HOLDS / 3;
      expect(sweepers.reduce((sum, sweeper) => sum + sweeper.released, 0)).to.equal(due);

      const entries = await stores[0]!.withSnapshot((all) => [...all]);
      const expiries = entries.filter((entry) => entry.kind === "hold_expire");
      expect(expiries.length).to.equal(due);
      expect(new Set(expiries.map((entry) => entry.holdId)).size).to.equal(due);
      const stillActive = await stores[0]!.activeHoldsByExpiry(HOLDS);
      expect(stillActive.length).to.equal(HOLDS / 3);
      const heldNow = stillActive.reduce((sum, hold) => sum + hold.amount, 0n);
      const accounts = await Promise.all(users.map(async (userId) => (await stores[0]!.getAccounts(userId))[0]));
      expect(accounts.reduce((sum, account) => sum + (account?.held ?? 0n), 0n)).to.equal(heldNow);
      const report = await stores[0]!.withSnapshot((all, accountRows) => verifyLedger(all, accountRows));
      expect(report.mismatches).to.deep.equal([]);
    });
  });

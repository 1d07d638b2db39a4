/**
 * 10,000 concurrent captures, voids and transfers on one account that has an overdraft limit (and
 * little available beside its holds, so the limit binds) and
 * hundreds of holds, on both stores; keyed captures are sent twice at once (a retry racing its
 * first attempt). Afterwards: no hold captured past its amount plus the tolerance, each hold's
 * captures in the entries add up to its stored `captured`, every keyed capture applied once, the
 * sum of balances plus everything captured equals what was loaded, the account's available balance
 * (balance - held) never went below minus its overdraft limit at any entry, and `verify` is clean.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { Ledger } from "../../src/domain/ledger.js";
import { captureLimit } from "../../src/domain/hold.js";
import { decideLoad } from "../../src/domain/rules.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { openStore } from "../../src/store/open.js";
import type { Entry, LedgerStore } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

const OPERATIONS = 10_000;
const HOLDS = 400;
const HOLD_AMOUNT = 100n;
const SPOKES = 20;
const OPENING_BALANCE = 40_600n;
const SPOKE_BALANCE = 1_000n;
const OVERDRAFT_LIMIT = 500n;
const OVERCAPTURE_BPS = 1000n;
const HOUR_MS = 3_600_000;

for (const kind of STORE_KINDS)
  describe(`${OPERATIONS} concurrent captures, voids and transfers on one account, on ${kind}`, function () {
    this.timeout(300_000);
    let dir: string;
    let store: LedgerStore;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-hold-race-"));
      store = await openStore(storeOptions(readConfig({ LEDGER_DB: await databaseFor(kind, dir) })));
    });

    after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("keeps every invariant", async () => {
      const holdSettings = { ttlDefaultMs: HOUR_MS, ttlMaxMs: HOUR_MS, overcaptureBps: OVERCAPTURE_BPS };
      const ledger = new Ledger(store, { defaultCurrency: "USD", holds: holdSettings });
      const spokes = Array.from({ length: SPOKES }, (_, index) => `spoke-${index}`);
      const load = (userId: string, amount: bigint) =>
        store.mutate({ account: { userId, currency: "USD" }, idempotencyKey: null, decide: decideLoad(amount) });
      await load("hub", OPENING_BALANCE);
      for (const spoke of spokes) await load(spoke, SPOKE_BALANCE);
      await store.setPolicy({ userId: "hub", currency: "USD" }, { overdraftLimit: OVERDRAFT_LIMIT, state: "active" });
      const placed = await Promise.all(
        Array.from({ length: HOLDS }, () =>
          ledger.holds.authorize({
            userId: "hub",
            currency: "USD",
            amount: HOLD_AMOUNT,
            idempotencyKey: null,
            expiry: { ttlMs: HOUR_MS },
          }),
        ),
      );
      const holdIds = placed.map((outcome) => {
        if (!outcome.ok || outcome.value.hold === undefined) throw new Error("a hold was not placed");
        return outcome.value.hold.holdId;
      });

      const calls = Array.from({ length: OPERATIONS }, (_, index) => {
        const holdId = holdIds[index % HOLDS] ?? 0n;
        const spoke = spokes[index % SPOKES] ?? "spoke-0";
        switch (index % 10) {
          case 0:
            return [ledger.holds.void({ userId: "hub", holdId, amount: 0n, final: false, idempotencyKey: null })];
          case 1:
          case 2:
          case 3:
          case 4: {
            // 1 to 60: several captures of one hold reach its amount, some pass the tolerance.
            const input = {
              userId: "hub",
              holdId,
              amount: BigInt((index % 60) + 1),
              final: index % 7 === 0,
              idempotencyKey: index % 2 === 0 ? `cap-${index}` : null,
            };
            return input.idempotencyKey === null
              ? [ledger.holds.capture(input)]
              : [ledger.holds.capture(input), ledger.holds.capture(input)];
          }
          default: {
            const outbound = index % 2 === 0;
            return [
              ledger.transfer({
                payerUserId: outbound ? "hub" : spoke,
                payeeUserId: outbound ? spoke : "hub",
                currency: "USD",
                amount: BigInt((index % 19) + 1),
                idempotencyKey: null,
              }),
            ];
          }
        }
      });
      const outcomes = await Promise.all(calls.map((group) => Promise.all(group)));

      let captures = 0;
      let refusals = 0;
      for (const group of outcomes) {
        const [first, twin] = group;
        if (first === undefined) throw new Error("no outcome");
        if (!first.ok) {
          refusals += 1;
          expect(first.failure.kind).to.be.oneOf(["hold_refused", "insufficient_funds", "account_policy"]);
          continue;
        }
        if (twin === undefined) continue;
        captures += 1;
        // Exactly one of the two applied; the other replays the same capture.
        if (!twin.ok) throw new Error(`a retry failed: ${twin.failure.kind}`);
        const [a, b] = [first.value, twin.value] as { replayed: boolean; entry: Entry }[];
        expect([a?.replayed, b?.replayed].sort()).to.deep.equal([false, true]);
        expect(b?.entry.id).to.equal(a?.entry.id);
      }

      const entries = await store.withSnapshot((all) => [...all]);
      const capturedByHold = new Map<bigint, bigint>();
      let capturedTotal = 0n;
      for (const entry of entries) {
        if (entry.kind === "hold_capture" && entry.holdId !== undefined) {
          capturedByHold.set(entry.holdId, (capturedByHold.get(entry.holdId) ?? 0n) + entry.amount);
          capturedTotal += entry.amount;
        }
        if (entry.userId === "hub") {
          const available = entry.balanceAfter - (entry.heldAfter ?? 0n);
          expect(available >= -OVERDRAFT_LIMIT, `entry ${entry.id}: available ${available}`).to.equal(true);
        }
      }
      for (const holdId of holdIds) {
        const hold = await store.getHold(holdId);
        expect(hold?.captured).to.equal(capturedByHold.get(holdId) ?? 0n);
        expect((hold?.captured ?? 0n) <= captureLimit(HOLD_AMOUNT, OVERCAPTURE_BPS)).to.equal(true);
      }

      const users = ["hub", ...spokes];
      const balances = await Promise.all(users.map(async (userId) => (await store.getAccounts(userId, "USD"))[0]));
      const total = balances.reduce((sum, account) => sum + (account?.balance ?? 0n), 0n);
      expect(total + capturedTotal).to.equal(OPENING_BALANCE + SPOKE_BALANCE * BigInt(SPOKES));
      const hub = balances[0];
      expect((hub?.balance ?? 0n) - (hub?.held ?? 0n) >= -OVERDRAFT_LIMIT).to.equal(true);

      const report = await store.withSnapshot((all, accounts) => verifyLedger(all, accounts));
      expect(report.mismatches).to.deep.equal([]);
      console.log(
        `      ${kind}: ${OPERATIONS} operations, ${captures} keyed captures raced by their retry, ${refusals} refused, ${capturedTotal} captured, ${report.entriesChecked} entries verified`,
      );
    });
  });

/**
 * 10,000 concurrent transfers through one hub account, on both stores, half of them sent twice
 * at once with the same idempotency key: every invariant must hold afterwards. No balance below
 * zero, the sum of balances unchanged, each key applied exactly once (its twin replays it), and
 * `verify` finds every account equal to its entries and every group summing to zero.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { Ledger } from "../../src/domain/ledger.js";
import { decideLoad } from "../../src/domain/rules.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { openStore } from "../../src/store/open.js";
import type { LedgerStore } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

const TRANSFERS = 10_000;
const SPOKES = 20;
const OPENING_BALANCE = 1_000n;

for (const kind of STORE_KINDS)
  describe(`${TRANSFERS} concurrent transfers through one account, on ${kind}`, function () {
    this.timeout(120_000);
    let dir: string;
    let store: LedgerStore;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-transfer-race-"));
      store = await openStore(storeOptions(readConfig({ LEDGER_DB: await databaseFor(kind, dir) })));
    });

    after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("keeps every invariant", async () => {
      const ledger = new Ledger(store, { defaultCurrency: "USD" });
      const users = ["hub", ...Array.from({ length: SPOKES }, (_, index) => `spoke-${index}`)];
      for (const userId of users) {
        await store.mutate({
          account: { userId, currency: "USD" },
          idempotencyKey: null,
          decide: decideLoad(OPENING_BALANCE),
        });
      }
      const calls = Array.from({ length: TRANSFERS }, (_, index) => {
        const spoke = `spoke-${index % SPOKES}`;
        const outbound = index % 3 === 0;
        const payerUserId = outbound ? "hub" : spoke;
        const key = index % 2 === 0 ? `race-${index}` : null;
        const input = {
          payerUserId,
          payeeUserId: outbound ? spoke : "hub",
          currency: "USD",
          amount: BigInt((index % 97) + 1),
          idempotencyKey: key,
        };
        // A keyed transfer is sent twice at once: a client's retry racing its first attempt.
        return key === null ? [ledger.transfer(input)] : [ledger.transfer(input), ledger.transfer(input)];
      });
      const outcomes = await Promise.all(calls.map((pair) => Promise.all(pair)));

      let applied = 0;
      for (const pair of outcomes) {
        // A refusal does not use up the key: a twin that runs after funds arrived applies anew,
        // so either of the two may be refused while the other applies. What may never happen is
        // two applications, or a replay of a refusal.
        const succeeded = [];
        for (const outcome of pair) {
          if (outcome.ok) succeeded.push(outcome.value);
          else expect(outcome.failure.kind).to.equal("insufficient_funds");
        }
        const fresh = succeeded.filter((value) => !value.replayed);
        if (succeeded.length === 0) continue;
        expect(fresh, "exactly one of a pair applies").to.have.length(1);
        applied += 1;
        for (const value of succeeded) expect(value.transferId).to.equal(fresh[0]?.transferId);
      }
      expect(applied).to.be.greaterThan(TRANSFERS / 2);

      const balances = await Promise.all(users.map(async (userId) => (await store.getAccounts(userId, "USD"))[0]));
      const total = balances.reduce((sum, account) => sum + (account?.balance ?? 0n), 0n);
      expect(total).to.equal(OPENING_BALANCE * BigInt(users.length));
      for (const account of balances) expect((account?.balance ?? -1n) >= 0n, account?.userId).to.equal(true);

      const report = await store.withSnapshot((entries, accounts) => verifyLedger(entries, accounts));
      expect(report.mismatches).to.deep.equal([]);
      expect(report.entriesChecked).to.equal(users.length + applied * 2);
      console.log(
        `      ${kind}: ${applied} of ${TRANSFERS} transfers applied, ${report.entriesChecked} entries verified`,
      );
    });
  });

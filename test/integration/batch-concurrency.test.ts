/**
 * Batches in the store, on both stores, under concurrency: batches naming the same users in
 * opposite orders never deadlock nor fail; a refused batch leaves its batch-mates in the same
 * commit untouched; and thousands of concurrent batches and single mutations over overlapping
 * accounts keep every invariant (the sum of balances, no balance below minus its overdraft
 * limit, each batch all or nothing, `verify` clean).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import type { BatchItem } from "../../src/domain/batch.js";
import { Ledger } from "../../src/domain/ledger.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { openStore } from "../../src/store/open.js";
import type { Entry, LedgerStore } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

const USD = "USD";
const BATCHES = 2_000;
const SINGLES = 2_000;
const USERS = 12;
const OPENING_BALANCE = 200n;
const OVERDRAFT_LIMIT = 50n;

const transfer = (payerUserId: string, payeeUserId: string, amount: bigint): BatchItem => ({
  kind: "transfer",
  payerUserId,
  payeeUserId,
  currency: USD,
  amount,
});
const adjust = (userId: string, amount: bigint): BatchItem => ({ kind: "adjust", userId, currency: USD, amount });

for (const kind of STORE_KINDS)
  describe(`concurrent batches in the store, on ${kind}`, function () {
    this.timeout(180_000);
    let dir: string;
    let store: LedgerStore;
    let ledger: Ledger;
    let database: string;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-batch-race-"));
      database = await databaseFor(kind, dir);
      store = await openStore(storeOptions(readConfig({ LEDGER_DB: database })));
      ledger = new Ledger(store, { defaultCurrency: USD });
    });

    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const balance = async (userId: string) => (await store.getAccounts(userId, USD))[0]?.balance ?? 0n;
    const open = async (users: readonly string[], amount: bigint) => {
      for (const userId of users) {
        const loaded = await ledger.load({ userId, currency: USD, amount, idempotencyKey: null });
        expect(loaded.ok).to.equal(true);
      }
    };

    it("never deadlocks nor fails when batches name the same users in opposite orders", async () => {
      const users = ["u0", "u1", "u2", "u3"];
      await open(users, 1_000n);
      const reversed = [...users].reverse();
      const chain = (order: string[]) =>
        order.slice(0, -1).map((userId, index) => transfer(userId, order[index + 1] ?? "", 1n));
      // A second store on the same database (as a second process would be), and the calls sent
      // in waves, so that many transactions hold some users' locks while asking for others.
      const other = await openStore(storeOptions(readConfig({ LEDGER_DB: database })));
      try {
        const ledgers = [ledger, new Ledger(other, { defaultCurrency: USD })];
        const waves = await Promise.all(
          Array.from({ length: 20 }, async (_, wave) => {
            await new Promise((resolve) => setTimeout(resolve, wave));
            return Promise.all(
              Array.from({ length: 20 }, (_, index) =>
                (ledgers[index % 2] ?? ledger).applyBatch({
                  items: chain(index % 4 < 2 ? users : reversed),
                  idempotencyKey: null,
                }),
              ),
            );
          }),
        );
        const outcomes = waves.flat();
        expect(outcomes.length).to.equal(400);
        expect(outcomes.filter((outcome) => !outcome.ok)).to.deep.equal([]);
      } finally {
        await other.close();
      }
      // Each chain moves one unit along and the other back: everyone ends where they started.
      expect(await Promise.all(users.map(balance))).to.deep.equal([1_000n, 1_000n, 1_000n, 1_000n]);
    });

    it("leaves the batch-mates of a refused batch in the same commit untouched", async () => {
      await open(["a"], 10n);
      // Sent in one turn of the event loop, so both stores put them in one commit.
      const [good, refused, single, after] = await Promise.all([
        ledger.applyBatch({ items: [adjust("a", -4n), transfer("a", "b", 1n)], idempotencyKey: "good" }),
        ledger.applyBatch({ items: [adjust("c", 7n), transfer("a", "c", 100n)], idempotencyKey: "refused" }),
        ledger.load({ userId: "c", currency: USD, amount: 3n, idempotencyKey: null }),
        ledger.applyBatch({ items: [transfer("a", "b", 5n)], idempotencyKey: null }),
      ]);
      expect([good?.ok, single?.ok, after?.ok]).to.deep.equal([true, true, true]);
      // Its refusal reports a's balance as the refused batch saw it: after `good` (5), and also
      // after `after` (0) or before both (10) where PostgreSQL's concurrent transactions took
      // a's lock in another order than they were sent.
      const seen = refused?.ok === false && refused.failure.kind === "batch_item_failed" ? refused.failure : undefined;
      const balanceSeen = seen?.failure.kind === "insufficient_funds" ? seen.failure.balance : -1n;
      expect(kind === "sqlite" ? [5n] : [10n, 5n, 0n]).to.include(balanceSeen);
      expect(seen).to.deep.equal({
        kind: "batch_item_failed",
        itemIndex: 1,
        failure: { kind: "insufficient_funds", balance: balanceSeen, available: balanceSeen, amount: -100n },
      });
      expect(await Promise.all(["a", "b", "c"].map(balance))).to.deep.equal([0n, 6n, 3n]);
      // The refused batch did not consume its key: sent again once funded, it applies.
      await open(["a"], 100n);
      const retried = await ledger.applyBatch({
        items: [adjust("c", 7n), transfer("a", "c", 100n)],
        idempotencyKey: "refused",
      });
      expect(retried.ok && retried.value.replayed).to.equal(false);
    });

    it(`keeps every invariant under ${BATCHES} batches and ${SINGLES} single mutations racing`, async () => {
      const users = Array.from({ length: USERS }, (_, index) => `user-${index}`);
      await open(users, OPENING_BALANCE);
      for (const userId of users.slice(0, USERS / 2)) {
        const policy = await ledger.setPolicy({
          userId,
          currency: USD,
          overdraftLimit: OVERDRAFT_LIMIT,
          state: "active",
        });
        expect(policy.ok).to.equal(true);
      }
      const userAt = (index: number) => users[index % USERS] ?? "user-0";
      // Each batch moves money only among the users (transfers, and adjustments that cancel),
      // so every applied batch leaves the sum unchanged; amounts are large enough to refuse some.
      const batches = Array.from({ length: BATCHES }, (_, index) => {
        const amount = BigInt((index % 61) * 4 + 1);
        const items: BatchItem[] = [
          transfer(userAt(index), userAt(index + 1), amount),
          transfer(userAt(index + 5), userAt(index), amount * 2n),
          adjust(userAt(index + 3), -amount),
          adjust(userAt(index + 7), amount),
        ];
        return {
          items: index % 2 === 0 ? items : items.slice(0, 2),
          idempotencyKey: index % 4 === 0 ? `batch-${index}` : null,
        };
      });
      const calls = [
        ...batches.map(async (input) => ({ input, outcome: await ledger.applyBatch(input) })),
        ...Array.from({ length: SINGLES }, (_, index) =>
          ledger.transfer({
            payerUserId: userAt(index * 5),
            payeeUserId: userAt(index * 5 + 2),
            currency: USD,
            amount: BigInt((index % 37) + 1),
            idempotencyKey: null,
          }),
        ),
      ];
      const settled = await Promise.all(calls);
      const applied = settled.slice(0, BATCHES).flatMap((result) => {
        if (!("input" in result)) return [];
        if (!result.outcome.ok) {
          expect(result.outcome.failure.kind).to.equal("batch_item_failed");
          return [];
        }
        return [{ input: result.input, receipt: result.outcome.value }];
      });
      const singlesApplied = settled.slice(BATCHES).filter((result) => "ok" in result && result.ok).length;
      expect(applied.length, "some batches apply").to.be.greaterThan(BATCHES / 10);
      expect(applied.length, "some batches are refused").to.be.lessThan(BATCHES);

      const balances = await Promise.all(users.map(balance));
      expect(balances.reduce((sum, value) => sum + value, 0n)).to.equal(OPENING_BALANCE * BigInt(USERS));
      balances.forEach((value, index) => {
        const limit = index < USERS / 2 ? OVERDRAFT_LIMIT : 0n;
        expect(value >= -limit, `${userAt(index)}: ${value}`).to.equal(true);
      });

      // All or nothing: each applied batch's group holds exactly its legs, and no other entry
      // carries a batch's group id; refused batches left no entry at all.
      const groups = await store.withSnapshot((entries) => {
        const byGroup = new Map<bigint, Entry[]>();
        for (const entry of entries) {
          if (entry.groupId === undefined) continue;
          byGroup.set(entry.groupId, [...(byGroup.get(entry.groupId) ?? []), entry]);
        }
        return byGroup;
      });
      for (const { input, receipt } of applied) {
        const legs = groups.get(receipt.batchId) ?? [];
        const expectedLegs = input.items.reduce((sum, item) => sum + (item.kind === "transfer" ? 2 : 1), 0);
        expect(legs.map((entry) => entry.id)).to.deep.equal(receipt.entries.map(({ entry }) => entry.id));
        expect(legs.length).to.equal(expectedLegs);
      }
      expect(groups.size).to.equal(applied.length + singlesApplied);

      const report = await store.withSnapshot(verifyLedger);
      expect(report.mismatches).to.deep.equal([]);
      const batchLegs = applied.reduce((sum, { receipt }) => sum + receipt.entries.length, 0);
      expect(report.entriesChecked).to.equal(USERS + batchLegs + singlesApplied * 2);
      console.log(
        `      ${kind}: ${applied.length} of ${BATCHES} batches and ${singlesApplied} of ${SINGLES} transfers applied, ${report.entriesChecked} entries verified`,
      );
    });
  });

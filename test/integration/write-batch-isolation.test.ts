/**
 * Mutations that share one write batch stay independent, on both stores. SQLite runs a batch of
 * ledger mutations without a savepoint each, against accounts cached for the batch and written
 * once at its end (src/store/sqlite/private/batch-accounts.ts); when one of them throws, the
 * whole transaction is rolled back and the batch run again with a savepoint each. These tests
 * submit every write of a case in one turn of the event loop, so SQLite puts them in one batch,
 * and check that the failing one alone failed, that the others decided against each other's
 * effects in order, and that every account row equals the fold of its entries afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { decideAdjust, decideLoad } from "../../src/domain/rules.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { openStore } from "../../src/store/open.js";
import type { AccountKey, EntryKind, LedgerStore, WriteBatchObserver } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

const alice: AccountKey = { userId: "alice", currency: "USD" };
const bob: AccountKey = { userId: "bob", currency: "USD" };

for (const kind of STORE_KINDS)
  describe(`mutations sharing a write batch stay independent, on ${kind}`, () => {
    let dir: string;
    let store: LedgerStore | undefined;
    let batchSizes: number[];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-batch-isolation-"));
      batchSizes = [];
      const observer: WriteBatchObserver = { batchCommitted: (size) => batchSizes.push(size) };
      const config = readConfig({ LEDGER_DB: await databaseFor(kind, dir) });
      store = await openStore(storeOptions(config), { writeObserver: observer });
    });

    afterEach(async () => {
      await store?.close();
      store = undefined;
      rmSync(dir, { recursive: true, force: true });
    });

    const opened = (): LedgerStore => {
      if (store === undefined) throw new Error("the store is not open");
      return store;
    };
    const adjust = (account: AccountKey, amount: bigint, idempotencyKey: string | null = null) =>
      opened().mutate({ account, idempotencyKey, decide: decideAdjust(amount) });
    const load = (account: AccountKey, amount: bigint) =>
      opened().mutate({ account, idempotencyKey: null, decide: decideLoad(amount) });
    const balanceOf = async (account: AccountKey) =>
      (await opened().getAccounts(account.userId, account.currency))[0]?.balance;
    const expectConsistent = async () => {
      const report = await opened().withSnapshot((entries, accounts, batches) =>
        verifyLedger(entries, accounts, batches),
      );
      expect(report.mismatches).to.deep.equal([]);
    };

    it("fails only the mutation whose rule throws, between two that commit with it", async () => {
      const settled = await Promise.allSettled([
        load(alice, 5n),
        opened().mutate({
          account: alice,
          idempotencyKey: null,
          decide: () => {
            throw new Error("a broken rule");
          },
        }),
        load(alice, 7n),
      ]);
      expect(settled.map((result) => result.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled"]);
      if (kind === "sqlite") expect(batchSizes).to.deep.equal([3]);
      expect(await balanceOf(alice)).to.equal(12n);
      const entries = await opened().listEntries({ userId: "alice", order: "oldest_first", limit: 10 });
      const balancesAfter = entries.map((entry) => entry.balanceAfter);
      // SQLite applies a batch in submission order; on PostgreSQL the two loads are separate
      // transactions, applied in the order they take the account's lock.
      if (kind === "sqlite") expect(balancesAfter).to.deep.equal([5n, 12n]);
      else
        expect([
          [5n, 12n],
          [7n, 12n],
        ]).to.deep.include(balancesAfter);
      await expectConsistent();
    });

    it("leaves nothing of a group whose second leg fails a constraint after its first was written", async () => {
      await load(bob, 3n);
      const bogus = opened().mutateGroup({
        accounts: [alice, bob],
        idempotency: null,
        decide: (current, nowMs) => {
          const credit = decideLoad(10n)(current[0], nowMs);
          const debit = decideAdjust(-1n)(current[1], nowMs);
          if (credit.type !== "post" || debit.type !== "post") return { type: "reject", reason: "unexpected" };
          return {
            type: "post",
            legs: [
              { account: alice, entry: credit.entry, next: credit.next },
              // A kind the schema's CHECK refuses: the INSERT fails after the first leg's.
              { account: bob, entry: { ...debit.entry, kind: "bogus" as EntryKind }, next: debit.next },
            ],
          };
        },
      });
      const settled = await Promise.allSettled([adjust(alice, 4n), bogus, adjust(bob, -2n), adjust(alice, 2n)]);
      expect(settled.map((result) => result.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect(settled.map((result) => (result.status === "fulfilled" ? result.value.type : "failed"))).to.deep.equal([
        "applied",
        "failed",
        "applied",
        "applied",
      ]);
      if (kind === "sqlite") expect(batchSizes).to.deep.equal([1, 4]);
      // Neither the group's first leg (a load of 10 on alice) nor its second is anywhere.
      expect(await balanceOf(alice)).to.equal(6n);
      expect(await balanceOf(bob)).to.equal(1n);
      const aliceEntries = await opened().listEntries({ userId: "alice", order: "oldest_first", limit: 10 });
      expect(aliceEntries.map((entry) => entry.kind)).to.deep.equal(["adjust", "adjust"]);
      const bobEntries = await opened().listEntries({ userId: "bob", order: "oldest_first", limit: 10 });
      expect(bobEntries.map((entry) => entry.kind)).to.deep.equal(["load", "adjust"]);
      await expectConsistent();
    });

    it("decides each debit against the debits before it in the same batch, and writes the final balance", async () => {
      await load(alice, 10n);
      const results = await Promise.all([1, 2, 3, 4, 5].map(() => adjust(alice, -3n)));
      // SQLite decides them in submission order; PostgreSQL in the order they take the lock.
      expect(results.map((result) => result.type).sort()).to.deep.equal([
        "applied",
        "applied",
        "applied",
        "rejected",
        "rejected",
      ]);
      expect(await balanceOf(alice)).to.equal(1n);
      await expectConsistent();
    });

    it("answers a key used twice in one batch once, and the second call as the existing entry", async () => {
      const [first, second] = await Promise.all([adjust(alice, 6n, "k-1"), adjust(alice, 6n, "k-1")]);
      const types = [first.type, second.type].sort();
      expect(types).to.deep.equal(["applied", "existing"]);
      expect(await balanceOf(alice)).to.equal(6n);
      await expectConsistent();
    });

    if (kind === "sqlite")
      it("applies a policy set in the middle of a batch to the mutations after it, and only those", async () => {
        await load(alice, 10n);
        const frozen = { overdraftLimit: 0n, state: "frozen" as const };
        const active = { overdraftLimit: 0n, state: "active" as const };
        batchSizes = [];
        const results = await Promise.all([
          adjust(alice, -3n),
          opened().setPolicy(alice, frozen),
          adjust(alice, -3n),
          opened().setPolicy(alice, active),
          adjust(alice, -3n),
        ]);
        expect(batchSizes).to.deep.equal([5]);
        const outcomes = results.map((result) => ("type" in result ? result.type : "policy"));
        expect(outcomes).to.deep.equal(["applied", "policy", "rejected", "policy", "applied"]);
        const refused = results[2];
        expect(refused !== undefined && "reason" in refused ? refused.reason : undefined).to.equal("account_frozen");
        expect(await balanceOf(alice)).to.equal(4n);
        await expectConsistent();
      });
  });

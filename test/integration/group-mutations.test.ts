/**
 * The store port's group mutations, on both stores: every leg or none, one group id on every
 * leg, idempotent replays that return every leg, and no lost or duplicated money when many
 * transfers race over the same accounts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { decideLoad } from "../../src/domain/rules.js";
import { decideTransfer, transferAccounts, type TransferInput } from "../../src/domain/transfer.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { openStore } from "../../src/store/open.js";
import type { LedgerStore } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

for (const kind of STORE_KINDS)
  describe(`group mutations in the store, on ${kind}`, function () {
    this.timeout(60_000);
    let dir: string;
    let store: LedgerStore;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-group-"));
      store = await openStore(storeOptions(readConfig({ LEDGER_DB: await databaseFor(kind, dir) })));
    });

    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const load = (userId: string, amount: bigint) =>
      store.mutate({ account: { userId, currency: "USD" }, idempotencyKey: null, decide: decideLoad(amount) });
    const transfer = (payerUserId: string, payeeUserId: string, amount: bigint, idempotencyKey: string | null) => {
      const input: TransferInput = { payerUserId, payeeUserId, currency: "USD", amount, idempotencyKey };
      return store.mutateGroup({
        accounts: transferAccounts(input),
        idempotency: idempotencyKey === null ? null : { userId: payerUserId, key: idempotencyKey },
        decide: decideTransfer(input),
      });
    };
    const balance = async (userId: string) => (await store.getAccounts(userId, "USD"))[0]?.balance;

    it("appends both legs with one group id, the first leg's id, and moves the balances", async () => {
      await load("alice", 100n);
      const result = await transfer("alice", "bob", 30n, "t-1");
      if (result.type !== "applied") throw new Error(`expected applied, got ${result.type}`);
      expect(result.entries.map((entry) => [entry.userId, entry.amount, entry.balanceAfter])).to.deep.equal([
        ["alice", -30n, 70n],
        ["bob", 30n, 30n],
      ]);
      expect(result.groupId).to.equal(result.entries[0]?.id);
      expect(result.entries[0]?.idempotencyKey).to.equal("t-1");
      expect(result.entries[1]?.idempotencyKey).to.equal(null);
      expect(result.before.map((state) => state?.balance)).to.deep.equal([100n, undefined]);
      expect([await balance("alice"), await balance("bob")]).to.deep.equal([70n, 30n]);
    });

    it("returns every leg of the first group on a keyed replay, and applies nothing again", async () => {
      await load("alice", 100n);
      const first = await transfer("alice", "bob", 30n, "t-1");
      const replay = await transfer("alice", "bob", 30n, "t-1");
      if (first.type !== "applied" || replay.type !== "existing") throw new Error("expected applied then existing");
      expect(replay.groupId).to.equal(first.groupId);
      expect(replay.entries.map((entry) => entry.id)).to.deep.equal(first.entries.map((entry) => entry.id));
      expect([await balance("alice"), await balance("bob")]).to.deep.equal([70n, 30n]);
    });

    it("applies a key once when two calls with it arrive in the same batch", async () => {
      await load("alice", 100n);
      const results = await Promise.all([transfer("alice", "bob", 30n, "same"), transfer("alice", "bob", 30n, "same")]);
      expect(results.map((result) => result.type).sort()).to.deep.equal(["applied", "existing"]);
      const [first, second] = results.map((result) => (result.type === "rejected" ? [] : result.entries));
      expect(second?.map((entry) => entry.id)).to.deep.equal(first?.map((entry) => entry.id));
      expect(second).to.have.length(2);
      expect([await balance("alice"), await balance("bob")]).to.deep.equal([70n, 30n]);
    });

    it("returns the lone entry, with no group, when the key named a single mutation", async () => {
      const loaded = await store.mutate({
        account: { userId: "alice", currency: "USD" },
        idempotencyKey: "k",
        decide: decideLoad(5n),
      });
      const result = await transfer("alice", "bob", 1n, "k");
      if (result.type !== "existing" || loaded.type !== "applied") throw new Error("expected existing");
      expect(result.groupId).to.equal(null);
      expect(result.entries.map((entry) => entry.id)).to.deep.equal([loaded.entry.id]);
    });

    it("appends no leg when the decision refuses, and reports every account's state", async () => {
      await load("alice", 10n);
      const result = await transfer("alice", "bob", 11n, null);
      if (result.type !== "rejected") throw new Error(`expected rejected, got ${result.type}`);
      expect(result.reason).to.equal("insufficient_funds");
      expect(result.current.map((state) => state?.balance)).to.deep.equal([10n, undefined]);
      expect(await store.getAccounts("bob")).to.deep.equal([]);
      const entries = await store.withSnapshot((all) => [...all].length);
      expect(entries).to.equal(1);
    });

    it("keeps the sum of balances and every balance non-negative under 400 racing transfers", async () => {
      const users = ["u0", "u1", "u2", "u3"];
      for (const user of users) await load(user, 50n);
      const results = await Promise.all(
        Array.from({ length: 400 }, (_, index) =>
          transfer(users[index % 4] ?? "u0", users[(index * 7 + 1) % 4] ?? "u1", BigInt((index % 9) + 1), null),
        ),
      );
      const applied = results.filter((result) => result.type === "applied").length;
      expect(applied).to.be.greaterThan(0);
      expect(applied + results.filter((result) => result.type === "rejected").length).to.equal(400);
      const balances = await Promise.all(users.map(balance));
      expect(balances.reduce((sum, value) => (sum ?? 0n) + (value ?? 0n), 0n)).to.equal(200n);
      for (const value of balances) expect((value ?? -1n) >= 0n).to.equal(true);
      // Every group has exactly two legs whose amounts cancel.
      const sums = await store.withSnapshot((entries) => {
        const total = new Map<bigint, bigint>();
        let legs = 0;
        for (const entry of entries) if (entry.kind === "adjust") ((legs += 1), total.set(entry.id, entry.amount));
        return { legs, adjustSum: [...total.values()].reduce((sum, value) => sum + value, 0n) };
      });
      expect(sums).to.deep.equal({ legs: applied * 2, adjustSum: 0n });
      // verify: every group starting at its id, in one currency, summing to zero; every account its fold.
      const report = await store.withSnapshot((entries, accounts) => verifyLedger(entries, accounts));
      expect(report.mismatches).to.deep.equal([]);
      expect(report.entriesChecked).to.equal(4 + applied * 2);
    });
  });

/**
 * The store port's WriteBatchObserver, on both stores: told once per committed batch with its
 * size and timings, and unable to turn a durable batch into a failed write by throwing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { readConfig, storeOptions } from "../../src/config.js";
import { decideLoad } from "../../src/domain/rules.js";
import { openStore } from "../../src/store/open.js";
import type { LedgerStore, WriteBatchObserver } from "../../src/store/store.js";
import { databaseFor, STORE_KINDS } from "../support/stores.js";

for (const kind of STORE_KINDS)
  describe(`the write-batch observer, on ${kind}`, () => {
    let dir: string;
    let store: LedgerStore | undefined;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "ledger-observer-"));
    });

    afterEach(async () => {
      await store?.close();
      store = undefined;
      rmSync(dir, { recursive: true, force: true });
    });

    const open = async (writeObserver: WriteBatchObserver) => {
      const config = readConfig({ LEDGER_DB: await databaseFor(kind, dir) });
      store = await openStore(storeOptions(config), { writeObserver });
      return store;
    };
    const load = (opened: LedgerStore, amount: bigint) =>
      opened.mutate({
        account: { userId: "observed", currency: "USD" },
        idempotencyKey: null,
        decide: decideLoad(amount),
      });

    it("is told each committed batch's size, its transaction time and its COMMIT time", async () => {
      const batches: [number, number, number][] = [];
      const opened = await open({ batchCommitted: (...args) => batches.push(args) });
      // Submitted in one turn of the event loop: SQLite commits them as one batch; PostgreSQL cuts
      // a batch whenever one of its connections is free, so it may use several.
      const results = await Promise.all([1n, 2n, 3n, 4n, 5n].map((amount) => load(opened, amount)));
      expect(results.map((result) => result.type)).to.deep.equal([
        "applied",
        "applied",
        "applied",
        "applied",
        "applied",
      ]);
      await load(opened, 6n);
      // A mutation whose rule throws fails on its own; its batch-mates still commit, and count.
      const failing = opened.mutate({
        account: { userId: "observed", currency: "USD" },
        idempotencyKey: null,
        decide: () => {
          throw new Error("a broken rule");
        },
      });
      const [failed, committed] = await Promise.allSettled([failing, load(opened, 7n)]);
      expect(failed.status).to.equal("rejected");
      expect(committed.status).to.equal("fulfilled");

      expect(batches.reduce((sum, [size]) => sum + size, 0)).to.equal(8);
      if (kind === "sqlite") expect(batches.map(([size]) => size)).to.deep.equal([5, 1, 2]);
      for (const [size, transactionMs, commitMs] of batches) {
        expect(size).to.be.at.least(1);
        expect(commitMs).to.be.above(0);
        expect(transactionMs).to.be.at.least(commitMs);
      }
    });

    it("lets a burst that arrives over several turns of the event loop share one batch (SQLite)", async () => {
      const batches: number[] = [];
      const opened = await open({ batchCommitted: (size) => batches.push(size) });
      // Two writes in this turn, a third in the next: the committer sees the queue still growing
      // and waits a turn, so one COMMIT (one fsync) serves the three.
      const writes = [load(opened, 1n), load(opened, 2n)];
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          writes.push(load(opened, 3n));
          resolve();
        }),
      );
      await Promise.all(writes);
      // A lone write afterwards commits on its own, without waiting for company.
      await load(opened, 4n);
      if (kind === "sqlite") expect(batches).to.deep.equal([3, 1]);
      else expect(batches.reduce((sum, size) => sum + size, 0)).to.equal(4);
    });

    it("cannot fail a durable write by throwing", async () => {
      const opened = await open({
        batchCommitted: () => {
          throw new Error("metrics broke");
        },
      });
      expect((await load(opened, 1n)).type).to.equal("applied");
      const [account] = await opened.getAccounts("observed", "USD");
      expect(account?.balance).to.equal(1n);
    });
  });

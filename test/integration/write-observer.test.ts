/**
 * The store port's WriteBatchObserver on the SQLite group commit: told once per committed batch
 * with its size and timings, never for a batch that failed, and unable to turn a durable batch
 * into a failed write by throwing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { WriteBatchObserver } from "../../src/store/store.js";

describe("the write-batch observer (SQLite group commit)", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ledger-observer-"));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (writeObserver: WriteBatchObserver) =>
    SqliteStore.open({ filename: join(dir, "ledger.db"), durability: "full", batchSizeMax: 100, queueDepthMax: 1000, busyTimeoutMs: 1000, writeObserver });

  it("is told each committed batch's size, its transaction time and its COMMIT time", async () => {
    const batches: [number, number, number][] = [];
    const store = await open({ batchCommitted: (...args) => batches.push(args) });
    try {
      // Submitted in one turn of the event loop: one batch of five.
      const results = await Promise.all([1, 2, 3, 4, 5].map((value) => store.submitWrite(() => value)));
      expect(results).to.deep.equal([1, 2, 3, 4, 5]);
      await store.submitWrite(() => 6);
      expect(batches.map(([size]) => size)).to.deep.equal([5, 1]);
      for (const [, transactionMs, commitMs] of batches) {
        expect(commitMs).to.be.above(0);
        expect(transactionMs).to.be.at.least(commitMs);
      }
      // A mutation that fails on its own still commits its batch-mates, and the batch counts.
      const failing = store.submitWrite(() => {
        throw new Error("refused by the domain");
      });
      const [failed, committed] = await Promise.allSettled([failing, store.submitWrite(() => 7)]);
      expect(failed.status).to.equal("rejected");
      expect(committed).to.deep.equal({ status: "fulfilled", value: 7 });
      expect(batches.at(-1)?.[0]).to.equal(2);
    } finally {
      await store.close();
    }
  });

  it("cannot fail a durable write by throwing", async () => {
    const store = await open({
      batchCommitted: () => {
        throw new Error("metrics broke");
      },
    });
    try {
      expect(await store.submitWrite(() => "committed")).to.equal("committed");
    } finally {
      await store.close();
    }
  });
});

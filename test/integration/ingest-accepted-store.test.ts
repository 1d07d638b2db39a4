/**
 * The store's accepted count differences (the ingest port's `acceptOffset` and
 * `loadAcceptedOffsets`), on both stores: a range accepted replaces the ranges it overlaps, an
 * offset of 0 only forgets, and what was accepted outlives the store being closed and reopened.
 */
import { expect } from "chai";
import { databaseFor, STORE_KINDS } from "../support/stores.js";
import { makeTempDir, openStoreAt } from "./ingest-helpers.js";

for (const kind of STORE_KINDS)
  describe(`ingest integration: accepted count differences in the store, on ${kind}`, function () {
    this.timeout(60_000);

    it("replaces overlapping ranges, forgets on 0, and keeps them across a reopen", async () => {
      const temp = makeTempDir();
      try {
        const database = await databaseFor(kind, temp.dir);
        let store = await openStoreAt(kind, database);
        try {
          await store.ingest.acceptOffset({ startMs: 0, endMs: 1000, offset: 1 });
          await store.ingest.acceptOffset({ startMs: 2000, endMs: 3000, offset: -2 });
          await store.ingest.acceptOffset({ startMs: 5000, endMs: 6000, offset: 3 });
          // [0.5 s, 2.5 s) overlaps the first two: they go, it stays.
          await store.ingest.acceptOffset({ startMs: 500, endMs: 2500, offset: 4 });
          // Touching [5 s, 6 s) only at its end is no overlap.
          await store.ingest.acceptOffset({ startMs: 6000, endMs: 7000, offset: 0 });
          expect(await store.ingest.loadAcceptedOffsets()).to.deep.equal([
            { startMs: 500, endMs: 2500, offset: 4 },
            { startMs: 5000, endMs: 6000, offset: 3 },
          ]);
        } finally {
          await store.close();
        }
        store = await openStoreAt(kind, database);
        try {
          expect(await store.ingest.loadAcceptedOffsets()).to.have.length(2);
          await store.ingest.acceptOffset({ startMs: 0, endMs: 10_000, offset: 0 });
          expect(await store.ingest.loadAcceptedOffsets()).to.deep.equal([]);
        } finally {
          await store.close();
        }
      } finally {
        temp.remove();
      }
    });
  });

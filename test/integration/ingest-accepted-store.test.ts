/**
 * The store's accepted count differences (the ingest port's `acceptOffset` and
 * `loadAcceptedOffsets`), on both stores, with the rule of src/ingest/accepted-offsets.ts: a
 * range accepted replaces itself and the ranges it overlaps partly, keeps those inside it while
 * it has an offset, forgets them when it has none; what was accepted outlives a reopen.
 */
import { expect } from "chai";
import { databaseFor, STORE_KINDS } from "../support/stores.js";
import { makeTempDir, openStoreAt } from "./ingest-helpers.js";

for (const kind of STORE_KINDS)
  describe(`ingest integration: accepted count differences in the store, on ${kind}`, function () {
    this.timeout(60_000);

    it("replaces partly overlapping ranges, keeps nested ones, forgets on 0, and outlives a reopen", async () => {
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
          // Inside [5 s, 6 s): both stay (the inner offset is part of the outer one); the same
          // range again replaces itself.
          await store.ingest.acceptOffset({ startMs: 5200, endMs: 5400, offset: 1 });
          await store.ingest.acceptOffset({ startMs: 5000, endMs: 6000, offset: 2 });
          expect(await store.ingest.loadAcceptedOffsets()).to.deep.equal([
            { startMs: 500, endMs: 2500, offset: 4 },
            { startMs: 5000, endMs: 6000, offset: 2 },
            { startMs: 5200, endMs: 5400, offset: 1 },
          ]);
        } finally {
          await store.close();
        }
        store = await openStoreAt(kind, database);
        try {
          expect(await store.ingest.loadAcceptedOffsets()).to.have.length(3);
          // Around [0.5 s, 2.5 s) with an offset: it stays inside.
          await store.ingest.acceptOffset({ startMs: 0, endMs: 3000, offset: 5 });
          expect(await store.ingest.loadAcceptedOffsets()).to.have.length(4);
          // With none: everything inside goes.
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

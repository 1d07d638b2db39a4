/**
 * ApplyBatch with hold items, on each store: a manual-capture authorize places a hold, captures
 * and voids are decided by the single calls' rules, all or nothing with the other items, with the
 * failing item's index on a refusal; a keyed retry never captures twice.
 */
import { expect } from "chai";
import { CaptureMode, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";
import { verifyLedger } from "../../src/domain/verify.js";

const { load, authorize, applyBatch, getBalance, listEntries } = LedgerService.method;
const { capture: captureCall, void: voidCall } = LedgerService.method;

const captureItem = (userId: string, holdId: bigint, amount: bigint, final = false) => ({
  kind: { case: "capture" as const, value: { userId, holdId, amount, final } },
});
const voidItem = (userId: string, holdId: bigint) => ({
  kind: { case: "void" as const, value: { userId, holdId } },
});

for (const store of STORE_KINDS)
  describe(`ApplyBatch with holds, on ${store}`, function () {
    this.timeout(60_000);
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      server = await startApp({}, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    const position = async (userId: string) => {
      const account = (await client.unary(getBalance, { userId })).balances[0];
      return [account?.balance, account?.held, account?.available];
    };
    const placeHold = async (userId: string, amount: bigint) =>
      (await client.unary(authorize, { userId, amount, captureMode: CaptureMode.MANUAL })).holdId;
    const audit = async () => {
      const report = await server.app.store.withSnapshot(verifyLedger);
      expect(report.mismatches).to.deep.equal([]);
    };

    it("places a hold with a manual-capture authorize item: its entry carries the hold id", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const response = await client.unary(applyBatch, {
        items: [{ kind: { case: "authorize", value: { userId: "u", amount: 30n, captureMode: CaptureMode.MANUAL } } }],
      });
      const entry = response.entries[0]?.entry;
      expect(entry?.holdId).to.equal(entry?.id);
      expect(await position("u")).to.deep.equal([100n, 30n, 70n]);
      await client.unary(captureCall, { userId: "u", holdId: entry?.holdId ?? 0n, amount: 30n });
      expect(await position("u")).to.deep.equal([70n, 0n, 70n]);
      await audit();
    });

    it("captures two holds and voids a third atomically", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const [a, b, c] = [await placeHold("u", 10n), await placeHold("u", 20n), await placeHold("u", 30n)];
      const response = await client.unary(applyBatch, {
        items: [captureItem("u", a, 10n), captureItem("u", b, 5n, true), voidItem("u", c)],
        idempotencyKey: "hb-1",
      });
      const rows = response.entries.map(({ itemIndex, entry }) => [itemIndex, entry?.holdId, entry?.amount]);
      expect(rows).to.deep.equal([
        [0, a, 10n],
        [1, b, 5n],
        [2, c, 30n],
      ]);
      expect(await position("u")).to.deep.equal([85n, 0n, 85n]);
      await audit();
    });

    it("fails with item_index 1 when the second item captures a voided hold, and applies nothing", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const [a, b] = [await placeHold("u", 10n), await placeHold("u", 20n)];
      await client.unary(voidCall, { userId: "u", holdId: b });
      const entriesBefore = (await client.unary(listEntries, { userId: "u", pageSize: 100 })).entries.length;
      const error = await callError(
        client.unary(applyBatch, { items: [captureItem("u", a, 10n), captureItem("u", b, 5n)] }),
      );
      expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(error.reason).to.equal("HOLD_VOIDED");
      expect(error.metadata?.item_index).to.equal("1");
      // The first item's hold is untouched: still reserved, and capturable by itself.
      expect(await position("u")).to.deep.equal([100n, 10n, 90n]);
      expect((await client.unary(listEntries, { userId: "u", pageSize: 100 })).entries.length).to.equal(entriesBefore);
      await client.unary(captureCall, { userId: "u", holdId: a, amount: 10n });
      await audit();
    });

    it("refuses a capture past what is left of a hold, also after an earlier item of the batch", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const a = await placeHold("u", 10n);
      const error = await callError(
        client.unary(applyBatch, { items: [captureItem("u", a, 6n), captureItem("u", a, 6n)] }),
      );
      expect([error.reason, error.metadata?.item_index]).to.deep.equal(["CAPTURE_EXCEEDS_HOLD", "1"]);
      expect(await position("u")).to.deep.equal([100n, 10n, 90n]);
    });

    it("says HOLD_NOT_FOUND with the item's index for an unknown or another user's hold", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const a = await placeHold("u", 10n);
      const unknown = await callError(
        client.unary(applyBatch, { items: [voidItem("u", a), voidItem("u", a + 1000n)] }),
      );
      expect([unknown.code, unknown.reason, unknown.metadata?.item_index]).to.deep.equal([
        grpc.status.NOT_FOUND,
        "HOLD_NOT_FOUND",
        "1",
      ]);
      const other = await callError(client.unary(applyBatch, { items: [voidItem("v", a)] }));
      expect([other.reason, other.metadata?.item_index]).to.deep.equal(["HOLD_NOT_FOUND", "0"]);
      expect(await position("u")).to.deep.equal([100n, 10n, 90n]);
    });

    it("refuses to capture a hold placed earlier in the same batch, with HOLD_NOT_FOUND", async () => {
      const loaded = await client.unary(load, { userId: "u", amount: 100n });
      // The hold the first item would place takes the next entry id.
      const nextId = loaded.entryId + 1n;
      const manual = { userId: "u", amount: 10n, captureMode: CaptureMode.MANUAL };
      const error = await callError(
        client.unary(applyBatch, {
          items: [{ kind: { case: "authorize", value: manual } }, captureItem("u", nextId, 5n)],
        }),
      );
      expect([error.reason, error.metadata?.item_index]).to.deep.equal(["HOLD_NOT_FOUND", "1"]);
      expect(await position("u")).to.deep.equal([100n, 0n, 100n]);
    });

    it("never captures twice on a retried batch, and a key reused for another capture is refused", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const a = await placeHold("u", 50n);
      const request = { items: [captureItem("u", a, 20n)], idempotencyKey: "hb-retry" };
      const first = await client.unary(applyBatch, request);
      const again = await client.unary(applyBatch, request);
      expect(again.replayed).to.equal(true);
      expect(again.batchId).to.equal(first.batchId);
      expect(await position("u")).to.deep.equal([80n, 30n, 50n]);
      const reused = await callError(
        client.unary(applyBatch, { items: [captureItem("u", a, 20n, true)], idempotencyKey: "hb-retry" }),
      );
      expect(reused.code).to.equal(grpc.status.ALREADY_EXISTS);
      expect(await position("u")).to.deep.equal([80n, 30n, 50n]);
      await audit();
    });
  });

/**
 * Holds end to end, on each store, over native gRPC (grpc-js) and Connect JSON (what curl sends):
 * a manual-capture Authorize reserves, captures debit (partial, final, used up, over-capture),
 * voids release, the sweeper releases expired holds (a manual clock moves time, nobody sleeps),
 * every refusal has its precise reason, retries never capture twice, and verify agrees.
 */
import { expect } from "chai";
import { CaptureMode, EntryKind, HoldStatus, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { httpCall } from "../support/http-call.js";
import { ManualClock } from "../support/manual-clock.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const {
  load,
  authorize,
  capture,
  void: voidHold,
  getBalance,
  listEntries,
  adjustBalance,
  transfer,
} = LedgerService.method;
const MANUAL = CaptureMode.MANUAL;

for (const store of STORE_KINDS)
  describe(`Holds over gRPC and Connect JSON, on ${store}`, function () {
    this.timeout(60_000);
    let server: TestApp;
    let client: GrpcTestClient;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      server = await startApp({ LEDGER_HOLD_OVERCAPTURE_BPS: "1000" }, store, { clock });
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    const position = async (userId: string) => {
      const account = (await client.unary(getBalance, { userId })).balances[0];
      return { balance: account?.balance, held: account?.held, available: account?.available };
    };
    const placeHold = async (userId: string, amount: bigint, extra: Record<string, unknown> = {}) => {
      const response = await client.unary(authorize, { userId, amount, captureMode: MANUAL, ...extra });
      expect(response.holdId).to.equal(response.entryId);
      return response.holdId;
    };
    const audit = async () => {
      const report = await server.app.store.withSnapshot((entries, accounts) => verifyLedger(entries, accounts));
      expect(report.mismatches).to.deep.equal([]);
    };

    it("reserves with a manual-capture Authorize: available drops, the balance does not", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const response = await client.unary(authorize, {
        userId: "u",
        amount: 60n,
        captureMode: MANUAL,
        ttlSeconds: 60n,
      });
      expect(response.decision).to.equal(1);
      expect(response).to.include({ balanceAfter: 100n, availableAfter: 40n, holdId: response.entryId });
      expect(response.holdExpiresAt?.seconds).to.equal(BigInt(clock.nowMs() / 1000 + 60));
      expect(await position("u")).to.deep.equal({ balance: 100n, held: 60n, available: 40n });
      const entries = (await client.unary(listEntries, { userId: "u" })).entries;
      expect(entries[0]).to.include({ kind: EntryKind.HOLD, holdId: response.holdId, heldDelta: 60n, heldAfter: 60n });
      // Every debit now sees 40 available: an immediate authorization, an adjustment, a transfer.
      const declined = await client.unary(authorize, { userId: "u", amount: 41n });
      expect(declined).to.include({ decision: 2, availableAfter: 40n });
      const adjust = await callError(client.unary(adjustBalance, { userId: "u", amount: -41n }));
      expect(adjust.reason).to.equal("INSUFFICIENT_FUNDS");
      expect(adjust.metadata).to.deep.equal({ balance: "100", available: "40", overdraft_limit: "0", amount: "-41" });
      const moved = await callError(client.unary(transfer, { payerUserId: "u", payeeUserId: "v", amount: 41n }));
      expect(moved.metadata["available"]).to.equal("40");
      const secondHold = await client.unary(authorize, { userId: "u", amount: 41n, captureMode: MANUAL });
      expect(secondHold).to.include({ decision: 2, holdId: 0n, availableAfter: 40n });
      await audit();
    });

    it("captures partially and repeatedly until used up, then refuses with HOLD_CAPTURED", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const holdId = await placeHold("u", 80n);
      const first = await client.unary(capture, { userId: "u", holdId, amount: 30n, idempotencyKey: "c1" });
      expect(first).to.include({ amount: 30n, balanceAfter: 70n, heldAfter: 50n, replayed: false });
      expect(first.hold).to.include({ captured: 30n, remaining: 50n, status: HoldStatus.ACTIVE });
      const second = await client.unary(capture, { userId: "u", holdId, amount: 50n });
      expect(second.hold).to.include({ captured: 80n, remaining: 0n, status: HoldStatus.CAPTURED });
      expect(await position("u")).to.deep.equal({ balance: 20n, held: 0n, available: 20n });
      const again = await callError(client.unary(capture, { userId: "u", holdId, amount: 1n }));
      expect([again.code, again.reason]).to.deep.equal([grpc.status.FAILED_PRECONDITION, "HOLD_CAPTURED"]);
      await audit();
    });

    it("releases the rest with a final capture, and over-captures only within the tolerance", async () => {
      await client.unary(load, { userId: "u", amount: 1000n });
      const finalHold = await placeHold("u", 100n);
      const final = await client.unary(capture, { userId: "u", holdId: finalHold, amount: 40n, final: true });
      expect(final).to.include({ balanceAfter: 960n, heldAfter: 0n });
      expect(final.hold).to.include({ status: HoldStatus.CAPTURED, remaining: 0n });
      const tipHold = await placeHold("u", 100n);
      const past = await callError(client.unary(capture, { userId: "u", holdId: tipHold, amount: 111n }));
      expect([past.code, past.reason]).to.deep.equal([grpc.status.FAILED_PRECONDITION, "CAPTURE_EXCEEDS_HOLD"]);
      expect(past.metadata).to.include({ hold_amount: "100", captured: "0", remaining: "100", capture_limit: "110" });
      const tip = await client.unary(capture, { userId: "u", holdId: tipHold, amount: 110n });
      expect(tip).to.include({ balanceAfter: 850n, heldAfter: 0n });
      expect(await position("u")).to.deep.equal({ balance: 850n, held: 0n, available: 850n });
      await audit();
    });

    it("voids what is left; a retry replays, a second void is HOLD_VOIDED, a capture too", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const holdId = await placeHold("u", 70n);
      await client.unary(capture, { userId: "u", holdId, amount: 20n });
      const voided = await client.unary(voidHold, { userId: "u", holdId, idempotencyKey: "v1" });
      expect(voided).to.include({ released: 50n, balanceAfter: 80n, heldAfter: 0n, replayed: false });
      expect(voided.hold?.status).to.equal(HoldStatus.VOIDED);
      const replay = await client.unary(voidHold, { userId: "u", holdId, idempotencyKey: "v1" });
      expect(replay).to.include({ entryId: voided.entryId, released: 50n, replayed: true });
      const twice = await callError(client.unary(voidHold, { userId: "u", holdId, idempotencyKey: "v2" }));
      expect([twice.code, twice.reason]).to.deep.equal([grpc.status.FAILED_PRECONDITION, "HOLD_VOIDED"]);
      const late = await callError(client.unary(capture, { userId: "u", holdId, amount: 1n }));
      expect(late.reason).to.equal("HOLD_VOIDED");
      expect(await position("u")).to.deep.equal({ balance: 80n, held: 0n, available: 80n });
      await audit();
    });

    it("never captures twice on a retry, and names the field of a reused key", async () => {
      await client.unary(load, { userId: "u", amount: 100n, idempotencyKey: "loaded" });
      const holdId = await placeHold("u", 50n, { idempotencyKey: "h1" });
      const request = { userId: "u", holdId, amount: 10n, idempotencyKey: "c1" };
      const first = await client.unary(capture, request);
      const retries = await Promise.all([1, 2, 3].map(() => client.unary(capture, request)));
      for (const retry of retries) expect(retry).to.include({ entryId: first.entryId, replayed: true });
      expect(await position("u")).to.deep.equal({ balance: 90n, held: 40n, available: 50n });
      const placedAgain = await client.unary(authorize, {
        userId: "u",
        amount: 50n,
        captureMode: MANUAL,
        idempotencyKey: "h1",
      });
      expect(placedAgain).to.include({ holdId, replayed: true });
      const cases: [() => Promise<unknown>, string][] = [
        [() => client.unary(capture, { ...request, amount: 11n }), "amount"],
        [() => client.unary(capture, { ...request, idempotencyKey: "loaded" }), "method"],
        [() => client.unary(voidHold, { userId: "u", holdId, idempotencyKey: "c1" }), "method"],
        [() => client.unary(authorize, { userId: "u", amount: 50n, idempotencyKey: "h1" }), "method"],
      ];
      for (const [call, field] of cases) {
        const error = await callError(call());
        expect([error.code, error.reason, error.metadata["field"]], field).to.deep.equal([
          grpc.status.ALREADY_EXISTS,
          "IDEMPOTENCY_KEY_REUSED",
          field,
        ]);
      }
      await audit();
    });

    it("answers NOT_FOUND for an unknown hold and for another user's hold", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const holdId = await placeHold("u", 50n);
      for (const call of [
        () => client.unary(capture, { userId: "u", holdId: holdId + 1000n, amount: 1n }),
        () => client.unary(capture, { userId: "intruder", holdId, amount: 1n }),
        () => client.unary(voidHold, { userId: "intruder", holdId }),
      ]) {
        const error = await callError(call());
        expect([error.code, error.reason]).to.deep.equal([grpc.status.NOT_FOUND, "HOLD_NOT_FOUND"]);
      }
      const invalid = await callError(client.unary(capture, { userId: "u", holdId: 0n, amount: 0n }));
      expect(invalid.fieldViolations.map((violation) => violation.field)).to.deep.equal(["hold_id", "amount"]);
      const immediate = await callError(client.unary(authorize, { userId: "u", amount: 1n, ttlSeconds: 5n }));
      expect(immediate.fieldViolations).to.deep.equal([{ field: "ttl_seconds", reason: "MANUAL_CAPTURE_ONLY" }]);
      expect(await position("u")).to.deep.equal({ balance: 100n, held: 50n, available: 50n });
    });

    it("refuses a capture at the expiry instant before the sweeper ran, then the sweeper releases it", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const holdId = await placeHold("u", 60n, { ttlSeconds: 60n });
      const other = await placeHold("u", 10n, { ttlSeconds: 120n });
      clock.advanceQuietly(60_000);
      const late = await callError(client.unary(capture, { userId: "u", holdId, amount: 1n }));
      expect([late.code, late.reason]).to.deep.equal([grpc.status.FAILED_PRECONDITION, "HOLD_EXPIRED"]);
      expect(late.metadata["remaining"]).to.equal("0");
      expect(await position("u")).to.deep.equal({ balance: 100n, held: 70n, available: 30n });
      clock.advance(0);
      await server.app.holdSweeper.settled();
      expect(await position("u")).to.deep.equal({ balance: 100n, held: 10n, available: 90n });
      const expired = (await client.unary(listEntries, { userId: "u", kinds: [EntryKind.HOLD_EXPIRE] })).entries;
      expect(expired.map((entry) => [entry.holdId, entry.amount, entry.heldDelta])).to.deep.equal([
        [holdId, 60n, -60n],
      ]);
      clock.advance(60_000);
      await server.app.holdSweeper.settled();
      expect(await position("u")).to.deep.equal({ balance: 100n, held: 0n, available: 100n });
      const voided = await callError(client.unary(voidHold, { userId: "u", holdId: other }));
      expect(voided.reason).to.equal("HOLD_EXPIRED");
      expect(server.app.holdSweeper.released).to.equal(2);
      await audit();
    });

    it("serves the hold calls over Connect JSON and the REST gateway, as curl sends them", async () => {
      await client.unary(load, { userId: "u", amount: 100n });
      const placed = await httpCall(server.baseUrl, "POST", "/v1/users/u:authorize", {
        amount: "70",
        captureMode: "CAPTURE_MODE_MANUAL",
        ttlSeconds: "300",
      });
      expect(placed.status).to.equal(200);
      const holdId = placed.json["holdId"] as string;
      expect(placed.json).to.include({ decision: "DECISION_APPROVED", availableAfter: "30" });
      const captured = await httpCall(server.baseUrl, "POST", `/v1/users/u/holds/${holdId}:capture`, {
        amount: "25",
        idempotencyKey: "cap-1",
      });
      expect(captured.status).to.equal(200);
      expect(captured.json).to.include({ balanceAfter: "75", heldAfter: "45" });
      const voided = await httpCall(server.baseUrl, "POST", "/ledger.v1.LedgerService/Void", { userId: "u", holdId });
      expect(voided.json).to.include({ released: "45", heldAfter: "0" });
      const refused = await httpCall(server.baseUrl, "POST", "/ledger.v1.LedgerService/Capture", {
        userId: "u",
        holdId,
        amount: "1",
      });
      expect(refused.status).to.equal(400);
      expect(JSON.stringify(refused.json)).to.contain("HOLD_VOIDED");
      const balance = await httpCall(server.baseUrl, "GET", "/v1/users/u/balances");
      expect((balance.json["balances"] as Record<string, unknown>[])[0]).to.include({ held: "0", available: "75" });
    });
  });

/**
 * Transfer end to end, on each store: over native gRPC (grpc-js) and Connect JSON (fetch, what
 * curl sends). Every success path and every error outcome: both legs or none, one transfer id,
 * the sum of balances conserved, idempotent replays, and the declines that explain themselves.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, transfer, getBalance, adjustBalance } = LedgerService.method;

for (const store of STORE_KINDS)
  describe(`Transfer over gRPC and Connect JSON, on ${store}`, function () {
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

    const balanceOf = async (userId: string) =>
      (await client.unary(getBalance, { userId })).balances.find((account) => account.currency === "USD")?.balance;

    it("moves the amount in two entries that carry one transfer id", async () => {
      await client.unary(load, { userId: "alice", amount: 100n });
      const response = await client.unary(transfer, {
        payerUserId: "alice",
        payeeUserId: "bob",
        amount: 40n,
        idempotencyKey: "t-1",
      });
      expect(response.transferId).to.equal(response.payerEntryId);
      expect(response.payeeEntryId).to.equal(response.payerEntryId + 1n);
      expect(response).to.include({
        payerUserId: "alice",
        payeeUserId: "bob",
        currency: "USD",
        amount: 40n,
        payerBalanceAfter: 60n,
        payeeBalanceAfter: 40n,
        replayed: false,
      });
      expect([await balanceOf("alice"), await balanceOf("bob")]).to.deep.equal([60n, 40n]);
    });

    it("replays a retried transfer without moving money twice", async () => {
      await client.unary(load, { userId: "alice", amount: 100n });
      const request = { payerUserId: "alice", payeeUserId: "bob", amount: 40n, idempotencyKey: "t-1" };
      const first = await client.unary(transfer, request);
      const again = await client.unary(transfer, request);
      expect(again.replayed).to.equal(true);
      expect([again.transferId, again.payeeEntryId]).to.deep.equal([first.transferId, first.payeeEntryId]);
      expect([await balanceOf("alice"), await balanceOf("bob")]).to.deep.equal([60n, 40n]);
    });

    it("fails with ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED naming the field that differs", async () => {
      await client.unary(load, { userId: "alice", amount: 100n, idempotencyKey: "used-by-load" });
      await client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 40n, idempotencyKey: "t-1" });
      const cases: [Record<string, unknown>, string][] = [
        [{ amount: 41n }, "amount"],
        [{ payeeUserId: "carol" }, "payee_user_id"],
        [{ currency: "EUR" }, "currency"],
        [{ idempotencyKey: "used-by-load" }, "method"],
      ];
      for (const [change, field] of cases) {
        const error = await callError(
          client.unary(transfer, {
            payerUserId: "alice",
            payeeUserId: "bob",
            amount: 40n,
            idempotencyKey: "t-1",
            ...change,
          }),
        );
        expect(error.code, field).to.equal(grpc.status.ALREADY_EXISTS);
        expect(error.reason).to.equal("IDEMPOTENCY_KEY_REUSED");
        expect(error.metadata["field"]).to.equal(field);
      }
      // An AdjustBalance retry under the transfer's key is not a replay of its payer leg.
      const adjusted = await callError(
        client.unary(adjustBalance, { userId: "alice", amount: -40n, idempotencyKey: "t-1" }),
      );
      expect(adjusted.reason).to.equal("IDEMPOTENCY_KEY_REUSED");
      expect(adjusted.metadata["field"]).to.equal("method");
      expect([await balanceOf("alice"), await balanceOf("bob")]).to.deep.equal([60n, 40n]);
    });

    it("fails with FAILED_PRECONDITION / INSUFFICIENT_FUNDS and records nothing", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const error = await callError(client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 11n }));
      expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(error.reason).to.equal("INSUFFICIENT_FUNDS");
      expect(error.metadata).to.include({ balance: "10", amount: "-11" });
      const balances = await client.unary(getBalance, { userId: "alice" });
      expect(balances.balances[0]?.entryCount).to.equal(1n);
      const bob = await callError(client.unary(getBalance, { userId: "bob" }));
      expect(bob.reason).to.equal("ACCOUNT_NOT_FOUND");
    });

    it("fails with INVALID_ARGUMENT for every bad field at once", async () => {
      const error = await callError(
        client.unary(transfer, { payerUserId: "alice", payeeUserId: "alice", amount: 0n, currency: "usd" }),
      );
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(error.fieldViolations).to.deep.equal([
        { field: "payee_user_id", reason: "SAME_AS_PAYER" },
        { field: "amount", reason: "OUT_OF_RANGE" },
        { field: "currency", reason: "INVALID_FORMAT" },
      ]);
      const missing = await callError(client.unary(transfer, { amount: 1n }));
      expect(missing.fieldViolations.map((violation) => violation.field)).to.deep.equal([
        "payer_user_id",
        "payee_user_id",
      ]);
    });

    it("conserves the sum of balances under 1,000 concurrent transfers among four users", async () => {
      const users = ["w", "x", "y", "z"];
      for (const userId of users) await client.unary(load, { userId, amount: 100n });
      const settled = await Promise.allSettled(
        Array.from({ length: 1000 }, (_, index) =>
          client.unary(transfer, {
            payerUserId: users[index % 4] ?? "w",
            payeeUserId: users[(index * 3 + 1) % 4] ?? "x",
            amount: BigInt((index % 13) + 1),
          }),
        ),
      );
      const refused = settled.filter((outcome) => outcome.status === "rejected");
      for (const outcome of refused) {
        expect((outcome.reason as { reason?: string }).reason).to.equal("INSUFFICIENT_FUNDS");
      }
      const balances = await Promise.all(users.map(balanceOf));
      expect(balances.reduce((sum, value) => (sum ?? 0n) + (value ?? 0n), 0n)).to.equal(400n);
      for (const value of balances) expect((value ?? -1n) >= 0n).to.equal(true);
    });

    it("serves Transfer as Connect JSON with int64 as strings, and its errors as JSON", async () => {
      await client.unary(load, { userId: "alice", amount: 100n });
      const post = async (body: unknown) => {
        const response = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/Transfer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const done = await post({ payerUserId: "alice", payeeUserId: "bob", amount: "25", currency: "USD" });
      expect(done.status).to.equal(200);
      expect(done.body).to.include({ amount: "25", payerBalanceAfter: "75", payeeBalanceAfter: "25" });
      const refused = await post({ payerUserId: "alice", payeeUserId: "bob", amount: "76" });
      expect(refused.status).to.equal(400);
      expect(refused.body["code"]).to.equal("failed_precondition");
      expect(JSON.stringify(refused.body)).to.not.match(/SQL|sqlite|postgres/i);
    });
  });

/**
 * SetAccountPolicy end to end, on each store, over native gRPC and Connect JSON: the overdraft
 * limit and the frozen and closed states enforced on every write path (Load, Authorize,
 * AdjustBalance, Transfer), refusals that carry the available balance and the limit, and
 * GetBalance reporting the policy.
 */
import { expect } from "chai";
import { AccountStatus, Decision, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, authorize, adjustBalance, transfer, getBalance, setAccountPolicy } = LedgerService.method;

for (const store of STORE_KINDS)
  describe(`SetAccountPolicy over gRPC and Connect JSON, on ${store}`, function () {
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

    const setPolicy = (userId: string, status: AccountStatus, overdraftLimit = 0n) =>
      client.unary(setAccountPolicy, { userId, status, overdraftLimit });

    it("lets debits reach -overdraft_limit and refuses past it with OVERDRAFT_LIMIT_EXCEEDED", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const set = await setPolicy("alice", AccountStatus.ACTIVE, 50n);
      expect(set).to.include({ userId: "alice", currency: "USD", overdraftLimit: 50n, status: AccountStatus.ACTIVE });
      const adjusted = await client.unary(adjustBalance, { userId: "alice", amount: -40n });
      expect(adjusted.balanceAfter).to.equal(-30n);
      const error = await callError(client.unary(adjustBalance, { userId: "alice", amount: -21n }));
      expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(error.reason).to.equal("OVERDRAFT_LIMIT_EXCEEDED");
      expect(error.metadata).to.include({ available: "-30", overdraft_limit: "50", amount: "-21" });
      const transferred = await client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 20n });
      expect(transferred.payerBalanceAfter).to.equal(-50n);
      const refused = await callError(client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 1n }));
      expect(refused.reason).to.equal("OVERDRAFT_LIMIT_EXCEEDED");
      expect(refused.metadata).to.include({ available: "-50", overdraft_limit: "50", amount: "-1" });
      // Authorize past the limit is a recorded decline, as without a policy.
      const declined = await client.unary(authorize, { userId: "alice", amount: 1n });
      expect(declined.decision).to.equal(Decision.DECLINED);
      const { balances } = await client.unary(getBalance, { userId: "alice" });
      expect(balances[0]).to.include({ balance: -50n, overdraftLimit: 50n, status: AccountStatus.ACTIVE });
    });

    it("approves an Authorize within the overdraft and keeps INSUFFICIENT_FUNDS when the limit is 0", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const noLimit = await callError(client.unary(adjustBalance, { userId: "alice", amount: -11n }));
      expect(noLimit.reason).to.equal("INSUFFICIENT_FUNDS");
      await setPolicy("alice", AccountStatus.ACTIVE, 5n);
      const approved = await client.unary(authorize, { userId: "alice", amount: 15n });
      expect(approved).to.include({ decision: Decision.APPROVED, balanceAfter: -5n });
    });

    it("refuses debits of a frozen account with ACCOUNT_FROZEN and accepts its credits", async () => {
      await client.unary(load, { userId: "alice", amount: 100n });
      await setPolicy("alice", AccountStatus.FROZEN);
      for (const call of [
        client.unary(authorize, { userId: "alice", amount: 1n }),
        client.unary(adjustBalance, { userId: "alice", amount: -1n }),
        client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 1n }),
      ]) {
        const error = await callError(call);
        expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
        expect(error.reason).to.equal("ACCOUNT_FROZEN");
        expect(error.metadata).to.include({ available: "100", overdraft_limit: "0", amount: "-1" });
      }
      expect((await client.unary(load, { userId: "alice", amount: 5n })).balanceAfter).to.equal(105n);
      await client.unary(load, { userId: "bob", amount: 5n });
      const credited = await client.unary(transfer, { payerUserId: "bob", payeeUserId: "alice", amount: 5n });
      expect(credited.payeeBalanceAfter).to.equal(110n);
      const { balances } = await client.unary(getBalance, { userId: "alice" });
      expect(balances[0]).to.include({ balance: 110n, entryCount: 3n, status: AccountStatus.FROZEN });
    });

    it("refuses every mutation of a closed account with ACCOUNT_CLOSED, and reactivates it", async () => {
      await client.unary(load, { userId: "alice", amount: 100n });
      await client.unary(load, { userId: "bob", amount: 100n });
      await setPolicy("alice", AccountStatus.CLOSED);
      for (const call of [
        client.unary(load, { userId: "alice", amount: 1n }),
        client.unary(authorize, { userId: "alice", amount: 1n }),
        client.unary(adjustBalance, { userId: "alice", amount: 1n }),
        client.unary(transfer, { payerUserId: "alice", payeeUserId: "bob", amount: 1n }),
        client.unary(transfer, { payerUserId: "bob", payeeUserId: "alice", amount: 1n }),
      ]) {
        const error = await callError(call);
        expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
        expect(error.reason).to.equal("ACCOUNT_CLOSED");
        expect(error.metadata["available"]).to.equal("100");
      }
      await setPolicy("alice", AccountStatus.ACTIVE);
      expect((await client.unary(load, { userId: "alice", amount: 1n })).balanceAfter).to.equal(101n);
    });

    it("fails with INVALID_ARGUMENT for a missing status, a negative limit or a bad user", async () => {
      const error = await callError(
        client.unary(setAccountPolicy, { userId: "", currency: "usd", overdraftLimit: -1n }),
      );
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(error.fieldViolations).to.deep.equal([
        { field: "user_id", reason: "REQUIRED" },
        { field: "currency", reason: "INVALID_FORMAT" },
        { field: "overdraft_limit", reason: "OUT_OF_RANGE" },
        { field: "status", reason: "REQUIRED" },
      ]);
    });

    it("serves SetAccountPolicy as Connect JSON and reports the policy in GetBalance", async () => {
      await client.unary(load, { userId: "carol", amount: 1n, currency: "EUR" });
      const post = async (method: string, body: unknown) => {
        const response = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const set = await post("SetAccountPolicy", {
        userId: "carol",
        currency: "EUR",
        overdraftLimit: "999999999999999",
        status: "ACCOUNT_STATUS_FROZEN",
      });
      expect(set.status).to.equal(200);
      expect(set.body).to.include({ overdraftLimit: "999999999999999", status: "ACCOUNT_STATUS_FROZEN" });
      const balance = await post("GetBalance", { userId: "carol" });
      const [account] = balance.body["balances"] as Record<string, unknown>[];
      expect(account).to.include({ overdraftLimit: "999999999999999", status: "ACCOUNT_STATUS_FROZEN" });
      const refused = await post("Authorize", { userId: "carol", amount: "1", currency: "EUR" });
      expect(refused.status).to.equal(400);
      expect(JSON.stringify(refused.body)).to.include("ACCOUNT_FROZEN");
    });
  });

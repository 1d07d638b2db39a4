/**
 * ApplyBatch end to end, on each store: over native gRPC (grpc-js), Connect JSON and the REST
 * gateway. Items apply in order and see each other; every error outcome names its item and
 * leaves every balance as it was; a keyed retry replays, a key reused for other items fails.
 */
import { expect } from "chai";
import { LedgerService, AccountStatus, CaptureMode } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { httpCall } from "../support/http-call.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";
import { verifyLedger } from "../../src/domain/verify.js";

const { load, authorize, applyBatch, getBalance, setAccountPolicy, listEntries } = LedgerService.method;

const loadItem = (userId: string, amount: bigint, currency = "") => ({
  kind: { case: "load" as const, value: { userId, amount, currency } },
});
const authorizeItem = (userId: string, amount: bigint) => ({
  kind: { case: "authorize" as const, value: { userId, amount } },
});
const adjustItem = (userId: string, amount: bigint) => ({
  kind: { case: "adjust" as const, value: { userId, amount } },
});
const transferItem = (payerUserId: string, payeeUserId: string, amount: bigint) => ({
  kind: { case: "transfer" as const, value: { payerUserId, payeeUserId, amount } },
});

for (const store of STORE_KINDS)
  describe(`ApplyBatch over gRPC, Connect JSON and REST, on ${store}`, function () {
    this.timeout(60_000);
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      // The per-call amount limit lifted to int64, so that an overflow and 2^53 + 1 can be sent.
      server = await startApp({ LEDGER_BATCH_ITEMS_MAX: "5", LEDGER_AMOUNT_MINOR_MAX: String(2n ** 63n - 1n) }, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    const balanceOf = async (userId: string) =>
      (await client.unary(getBalance, { userId })).balances.find((account) => account.currency === "USD")?.balance;
    const entryCount = async (userId: string) =>
      (await client.unary(listEntries, { userId, pageSize: 1000 })).entries.length;

    it("applies the items in order, each seeing the ones before, under one batch id", async () => {
      const response = await client.unary(applyBatch, {
        items: [
          loadItem("alice", 100n),
          authorizeItem("alice", 100n),
          loadItem("bob", 5n),
          transferItem("bob", "alice", 5n),
        ],
        idempotencyKey: "b-1",
      });
      expect(response.replayed).to.equal(false);
      const rows = response.entries.map(({ itemIndex, entry }) => [
        itemIndex,
        entry?.userId,
        entry?.amount,
        entry?.balanceAfter,
      ]);
      expect(rows).to.deep.equal([
        [0, "alice", 100n, 100n],
        [1, "alice", 100n, 0n],
        [2, "bob", 5n, 5n],
        [3, "bob", -5n, 0n],
        [3, "alice", 5n, 5n],
      ]);
      expect(response.batchId).to.equal(response.entries[0]?.entry?.id);
      expect(response.entries[0]?.entry?.idempotencyKey).to.equal("b-1");
      expect([await balanceOf("alice"), await balanceOf("bob")]).to.deep.equal([5n, 0n]);
      // What `npm run verify` runs: the batch's group (credits and debits, not a zero sum) passes.
      const report = await server.app.store.withSnapshot(verifyLedger);
      expect([report.entriesChecked, report.mismatches]).to.deep.equal([5, []]);
    });

    it("checks each debit against the available balance: what a hold reserves is not spent", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const hold = await client.unary(authorize, { userId: "alice", amount: 7n, captureMode: CaptureMode.MANUAL });
      expect(hold.holdId).to.not.equal(0n);
      // The balance (10) covers 4, the available balance (10 - 7 = 3) does not.
      const error = await callError(client.unary(applyBatch, { items: [adjustItem("alice", -4n)] }));
      expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(error.reason).to.equal("INSUFFICIENT_FUNDS");
      expect(error.metadata).to.deep.equal({
        item_index: "0",
        balance: "10",
        available: "3",
        overdraft_limit: "0",
        amount: "-4",
      });
      const immediate = await callError(client.unary(applyBatch, { items: [authorizeItem("alice", 4n)] }));
      expect([immediate.reason, immediate.metadata["available"]]).to.deep.equal(["INSUFFICIENT_FUNDS", "3"]);
      // Within the available balance it applies, and the hold is still there.
      await client.unary(applyBatch, { items: [adjustItem("alice", -3n)] });
      const [account] = (await client.unary(getBalance, { userId: "alice" })).balances;
      expect([account?.balance, account?.held, account?.available]).to.deep.equal([7n, 7n, 0n]);
    });

    it("fails with the refused item's reason and index, and applies nothing", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const error = await callError(
        client.unary(applyBatch, {
          items: [loadItem("bob", 50n), adjustItem("alice", -6n), transferItem("alice", "bob", 5n)],
        }),
      );
      expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(error.reason).to.equal("INSUFFICIENT_FUNDS");
      expect(error.metadata).to.deep.equal({
        item_index: "2",
        balance: "4",
        available: "4",
        overdraft_limit: "0",
        amount: "-5",
      });
      expect(error.details).to.match(/^batch item 2 failed, so nothing was applied: insufficient funds/);
      expect(await balanceOf("alice")).to.equal(10n);
      expect(await entryCount("alice")).to.equal(1);
      expect((await callError(client.unary(getBalance, { userId: "bob" }))).reason).to.equal("ACCOUNT_NOT_FOUND");
    });

    it("fails the batch on an authorization the balance does not cover, recording no decline", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      const error = await callError(
        client.unary(applyBatch, { items: [adjustItem("alice", 1n), authorizeItem("alice", 12n)] }),
      );
      expect([error.code, error.reason, error.metadata["item_index"]]).to.deep.equal([
        grpc.status.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
        "1",
      ]);
      const [account] = (await client.unary(getBalance, { userId: "alice" })).balances;
      expect([account?.balance, account?.declinedCount, account?.entryCount]).to.deep.equal([10n, 0n, 1n]);
    });

    it("enforces account policies per item: frozen, closed and the overdraft limit", async () => {
      await client.unary(load, { userId: "alice", amount: 10n });
      await client.unary(setAccountPolicy, { userId: "alice", overdraftLimit: 20n, status: AccountStatus.ACTIVE });
      await client.unary(setAccountPolicy, { userId: "carol", status: AccountStatus.FROZEN });
      await client.unary(setAccountPolicy, { userId: "dave", status: AccountStatus.CLOSED });
      const overdraft = await callError(
        client.unary(applyBatch, { items: [authorizeItem("alice", 25n), transferItem("alice", "bob", 6n)] }),
      );
      expect([overdraft.reason, overdraft.metadata]).to.deep.equal([
        "OVERDRAFT_LIMIT_EXCEEDED",
        { item_index: "1", available: "-15", overdraft_limit: "20", amount: "-6" },
      ]);
      const frozen = await callError(
        client.unary(applyBatch, { items: [loadItem("carol", 5n), adjustItem("carol", -5n)] }),
      );
      expect([frozen.reason, frozen.metadata["item_index"]]).to.deep.equal(["ACCOUNT_FROZEN", "1"]);
      const closed = await callError(client.unary(applyBatch, { items: [transferItem("alice", "dave", 1n)] }));
      expect([closed.reason, closed.metadata["item_index"]]).to.deep.equal(["ACCOUNT_CLOSED", "0"]);
      expect(await balanceOf("alice")).to.equal(10n);
      expect(await entryCount("carol")).to.equal(0);
    });

    it("fails with OUT_OF_RANGE / BALANCE_OVERFLOW naming the item that would leave int64", async () => {
      const error = await callError(
        client.unary(applyBatch, { items: [adjustItem("alice", 2n ** 62n), adjustItem("alice", 2n ** 62n)] }),
      );
      expect([error.code, error.reason, error.metadata]).to.deep.equal([
        grpc.status.OUT_OF_RANGE,
        "BALANCE_OVERFLOW",
        { item_index: "1" },
      ]);
      expect(await entryCount("alice")).to.equal(0);
    });

    it("fails with INVALID_ARGUMENT naming each bad item, an empty batch and one past the limit", async () => {
      const invalid = await callError(
        client.unary(applyBatch, {
          items: [
            loadItem("alice", 1n),
            loadItem("alice", 0n),
            {},
            transferItem("bob", "bob", 1n),
            loadItem("a", 1n, "usd"),
          ],
        }),
      );
      expect(invalid.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(invalid.fieldViolations).to.deep.equal([
        { field: "items[1].load.amount", reason: "OUT_OF_RANGE" },
        { field: "items[2]", reason: "REQUIRED" },
        { field: "items[3].transfer.payee_user_id", reason: "SAME_AS_PAYER" },
        { field: "items[4].load.currency", reason: "INVALID_FORMAT" },
      ]);
      const empty = await callError(client.unary(applyBatch, { items: [] }));
      expect(empty.fieldViolations).to.deep.equal([{ field: "items", reason: "REQUIRED" }]);
      const many = await callError(
        client.unary(applyBatch, { items: Array.from({ length: 6 }, () => loadItem("a", 1n)) }),
      );
      expect([many.code, many.fieldViolations]).to.deep.equal([
        grpc.status.INVALID_ARGUMENT,
        [{ field: "items", reason: "TOO_MANY" }],
      ]);
      expect((await callError(client.unary(getBalance, { userId: "alice" }))).reason).to.equal("ACCOUNT_NOT_FOUND");
    });

    it("replays a keyed retry with its first answer, and refuses the key for other items", async () => {
      const items = [loadItem("alice", 30n), transferItem("alice", "bob", 10n)];
      const first = await client.unary(applyBatch, { items, idempotencyKey: "b-1" });
      const again = await client.unary(applyBatch, { items, idempotencyKey: "b-1" });
      expect(again.replayed).to.equal(true);
      expect(again.batchId).to.equal(first.batchId);
      expect(again.entries.map((entry) => entry.entry?.id)).to.deep.equal(
        first.entries.map((entry) => entry.entry?.id),
      );
      const reused = await callError(
        client.unary(applyBatch, {
          items: [loadItem("alice", 30n), transferItem("alice", "bob", 11n)],
          idempotencyKey: "b-1",
        }),
      );
      expect([reused.code, reused.reason, reused.metadata]).to.deep.equal([
        grpc.status.ALREADY_EXISTS,
        "IDEMPOTENCY_KEY_REUSED",
        { idempotency_key: "b-1", field: "items" },
      ]);
      // The key is scoped to the first item's user: a Load of alice's under it is another method.
      const load = await callError(
        client.unary(LedgerService.method.load, { userId: "alice", amount: 30n, idempotencyKey: "b-1" }),
      );
      expect(load.metadata["field"]).to.equal("method");
      // A Transfer and a batch holding that same transfer are different requests, either way round.
      await client.unary(LedgerService.method.transfer, {
        payerUserId: "alice",
        payeeUserId: "bob",
        amount: 1n,
        idempotencyKey: "t-1",
      });
      const asBatch = await callError(
        client.unary(applyBatch, { items: [transferItem("alice", "bob", 1n)], idempotencyKey: "t-1" }),
      );
      expect([asBatch.reason, asBatch.metadata["field"]]).to.deep.equal(["IDEMPOTENCY_KEY_REUSED", "method"]);
      await client.unary(applyBatch, { items: [transferItem("alice", "bob", 1n)], idempotencyKey: "b-2" });
      const asTransfer = await callError(
        client.unary(LedgerService.method.transfer, {
          payerUserId: "alice",
          payeeUserId: "bob",
          amount: 1n,
          idempotencyKey: "b-2",
        }),
      );
      expect([asTransfer.reason, asTransfer.metadata["field"]]).to.deep.equal(["IDEMPOTENCY_KEY_REUSED", "method"]);
      // Under another first user the same key is a new batch.
      const bobs = await client.unary(applyBatch, { items: [loadItem("bob", 1n)], idempotencyKey: "b-1" });
      expect(bobs.replayed).to.equal(false);
      expect([await balanceOf("alice"), await balanceOf("bob")]).to.deep.equal([18n, 13n]);
    });

    it("applies a batch of the default limit, 1,000 transfers, sent in protobuf within the default message size", async () => {
      const defaults = await startApp({}, store);
      const other = new GrpcTestClient(defaults.address);
      try {
        await other.unary(load, { userId: "user-0", amount: 1_000n });
        const items = Array.from({ length: 1000 }, (_, index) =>
          transferItem(`user-${index % 100}`, `user-${(index + 1) % 100}`, 1_000n),
        );
        const response = await other.unary(applyBatch, { items, idempotencyKey: "big" });
        expect(response.entries.length).to.equal(2000);
        expect(response.entries.at(-1)?.entry?.balanceAfter).to.equal(1_000n);
        const too = await callError(other.unary(applyBatch, { items: [...items, loadItem("a", 1n)] }));
        expect(too.fieldViolations).to.deep.equal([{ field: "items", reason: "TOO_MANY" }]);
      } finally {
        other.close();
        await defaults.stop();
      }
    });

    it("serves ApplyBatch as Connect JSON and as POST /v1/batches, errors as JSON with item_index", async () => {
      const connect = await httpCall(server.baseUrl, "POST", "/ledger.v1.LedgerService/ApplyBatch", {
        items: [
          { load: { userId: "alice", amount: "9007199254740993" } },
          { adjust: { userId: "alice", amount: "-3" } },
        ],
        idempotencyKey: "j-1",
      });
      expect(connect.status).to.equal(200);
      const entries = connect.json["entries"] as { itemIndex?: number; entry: Record<string, unknown> }[];
      expect(entries.map((entry) => entry.entry["balanceAfter"])).to.deep.equal([
        "9007199254740993",
        "9007199254740990",
      ]);
      expect(connect.json["batchId"]).to.equal(entries[0]?.entry["id"]);
      const rest = await httpCall(server.baseUrl, "POST", "/v1/batches", {
        items: [{ transfer: { payerUserId: "alice", payeeUserId: "bob", amount: "90" } }],
      });
      expect(rest.status).to.equal(200);
      expect((rest.json["entries"] as unknown[]).length).to.equal(2);
      const refused = await httpCall(server.baseUrl, "POST", "/v1/batches", {
        items: [{ load: { userId: "bob", amount: "1" } }, { authorize: { userId: "bob", amount: "1000" } }],
      });
      expect(refused.status).to.equal(400);
      expect(refused.json["code"]).to.equal("failed_precondition");
      const [detail] = refused.json["details"] as { debug: { reason: string; metadata: Record<string, string> } }[];
      expect(detail?.debug.reason).to.equal("INSUFFICIENT_FUNDS");
      expect(detail?.debug.metadata).to.include({ item_index: "1", balance: "91" });
      expect(refused.text).to.not.match(/SQL|sqlite|postgres/i);
    });
  });

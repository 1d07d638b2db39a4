/**
 * The five RPCs over native gRPC, through @grpc/grpc-js against a real server on port 0, on
 * each store (a real SQLite file, a real PostgreSQL database): every success path and every
 * error outcome the contract names.
 */
import { expect } from "chai";
import { LedgerService, Decision } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { cutPostgresDatabase } from "../support/postgres-server.js";
import { sqliteConnection } from "../support/sqlite-internals.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, authorize, adjustBalance, getBalance, getPayouts } = LedgerService.method;
const INT64_MAX = 2n ** 63n - 1n;

for (const store of STORE_KINDS)
  describe(`LedgerService over gRPC (grpc-js client) on ${store}`, () => {
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      // The per-call limit lifted to int64, so that the int64 edges themselves can be tested.
      server = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(INT64_MAX) }, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    describe("Load", () => {
      it("credits a new account and returns the entry and the balance after", async () => {
        const response = await client.unary(load, { userId: "alice", amount: 1500n, currency: "EUR" });
        expect(response.entryId).to.equal(1n);
        expect(response.balanceAfter).to.equal(1500n);
        expect(response.currency).to.equal("EUR");
        expect(response.replayed).to.equal(false);
        const second = await client.unary(load, { userId: "alice", amount: 500n, currency: "EUR" });
        expect(second.entryId).to.equal(2n);
        expect(second.balanceAfter).to.equal(2000n);
      });

      it("uses the default currency when none is given", async () => {
        const response = await client.unary(load, { userId: "alice", amount: 1n });
        expect(response.currency).to.equal("USD");
      });

      it("keeps user ids with leading zeros distinct", async () => {
        await client.unary(load, { userId: "074092", amount: 10n });
        await client.unary(load, { userId: "74092", amount: 20n });
        const balance = await client.unary(getBalance, { userId: "074092" });
        expect(balance.balances[0]?.balance).to.equal(10n);
      });

      it("round-trips 2^53 + 1 exactly", async () => {
        const amount = 2n ** 53n + 1n;
        const response = await client.unary(load, { userId: "big", amount });
        expect(response.balanceAfter).to.equal(amount);
        const balance = await client.unary(getBalance, { userId: "big" });
        expect(balance.balances[0]?.balance).to.equal(amount);
      });

      it("accepts the int64 maximum and refuses a balance past it with OUT_OF_RANGE", async () => {
        await client.unary(load, { userId: "max", amount: INT64_MAX });
        const error = await callError(client.unary(load, { userId: "max", amount: 1n }));
        expect(error.code).to.equal(grpc.status.OUT_OF_RANGE);
        expect(error.reason).to.equal("BALANCE_OVERFLOW");
        const balance = await client.unary(getBalance, { userId: "max" });
        expect(balance.balances[0]?.balance).to.equal(INT64_MAX);
        expect(balance.balances[0]?.entryCount).to.equal(1n);
      });

      it("refuses zero and negative amounts with INVALID_ARGUMENT and a field violation", async () => {
        for (const amount of [0n, -1n]) {
          const error = await callError(client.unary(load, { userId: "alice", amount }));
          expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
          expect(error.fieldViolations).to.deep.include({ field: "amount", reason: "OUT_OF_RANGE" });
        }
      });
    });

    describe("Authorize", () => {
      it("approves and debits when the balance covers the amount", async () => {
        await client.unary(load, { userId: "card", amount: 100n });
        const response = await client.unary(authorize, { userId: "card", amount: 60n });
        expect(response.decision).to.equal(Decision.APPROVED);
        expect(response.balanceAfter).to.equal(40n);
      });

      it("declines without debiting, records the decline, and is not an error", async () => {
        await client.unary(load, { userId: "card", amount: 100n });
        const response = await client.unary(authorize, { userId: "card", amount: 101n });
        expect(response.decision).to.equal(Decision.DECLINED);
        expect(response.balanceAfter).to.equal(100n);
        expect(response.entryId).to.equal(2n);
        const [account] = (await client.unary(getBalance, { userId: "card" })).balances;
        expect(account?.balance).to.equal(100n);
        expect(account?.declinedCount).to.equal(1n);
        expect(account?.entryCount).to.equal(2n);
        expect(account?.authorized).to.equal(0n);
      });

      it("declines an account that does not exist yet, and records it", async () => {
        const response = await client.unary(authorize, { userId: "nobody", amount: 1n });
        expect(response.decision).to.equal(Decision.DECLINED);
        const [account] = (await client.unary(getBalance, { userId: "nobody" })).balances;
        expect(account?.declinedCount).to.equal(1n);
      });

      it("refuses a zero amount", async () => {
        const error = await callError(client.unary(authorize, { userId: "card", amount: 0n }));
        expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      });
    });

    describe("AdjustBalance", () => {
      it("adds and subtracts, returning the balance before and after", async () => {
        const up = await client.unary(adjustBalance, { userId: "w", amount: 10n });
        expect([up.balanceBefore, up.balanceAfter]).to.deep.equal([0n, 10n]);
        const down = await client.unary(adjustBalance, { userId: "w", amount: -10n });
        expect([down.balanceBefore, down.balanceAfter]).to.deep.equal([10n, 0n]);
      });

      it("fails with FAILED_PRECONDITION / INSUFFICIENT_FUNDS below zero and changes nothing", async () => {
        await client.unary(adjustBalance, { userId: "w", amount: 5n });
        const error = await callError(client.unary(adjustBalance, { userId: "w", amount: -6n }));
        expect(error.code).to.equal(grpc.status.FAILED_PRECONDITION);
        expect(error.reason).to.equal("INSUFFICIENT_FUNDS");
        expect(error.metadata).to.deep.equal({ balance: "5", available: "5", overdraft_limit: "0", amount: "-6" });
        const [account] = (await client.unary(getBalance, { userId: "w" })).balances;
        expect(account?.balance).to.equal(5n);
        expect(account?.entryCount).to.equal(1n);
      });

      it("refuses zero and -2^63", async () => {
        for (const amount of [0n, -(2n ** 63n)]) {
          const error = await callError(client.unary(adjustBalance, { userId: "w", amount }));
          expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
          expect(error.fieldViolations.map((violation) => violation.field)).to.include("amount");
        }
      });
    });

    describe("idempotency", () => {
      it("replays Load, Authorize and AdjustBalance without applying them twice", async () => {
        const first = await client.unary(load, { userId: "i", amount: 100n, idempotencyKey: "k-load" });
        const again = await client.unary(load, { userId: "i", amount: 100n, idempotencyKey: "k-load" });
        expect(again.replayed).to.equal(true);
        expect(again.entryId).to.equal(first.entryId);
        expect(again.balanceAfter).to.equal(100n);

        const declined = await client.unary(authorize, { userId: "i", amount: 500n, idempotencyKey: "k-auth" });
        await client.unary(load, { userId: "i", amount: 1000n });
        const declinedAgain = await client.unary(authorize, { userId: "i", amount: 500n, idempotencyKey: "k-auth" });
        expect(declinedAgain.decision, "a decline stays a decline").to.equal(Decision.DECLINED);
        expect(declinedAgain.entryId).to.equal(declined.entryId);
        expect(declinedAgain.replayed).to.equal(true);

        const adjusted = await client.unary(adjustBalance, { userId: "i", amount: -30n, idempotencyKey: "k-adj" });
        const adjustedAgain = await client.unary(adjustBalance, { userId: "i", amount: -30n, idempotencyKey: "k-adj" });
        expect(adjustedAgain.replayed).to.equal(true);
        expect([adjustedAgain.balanceBefore, adjustedAgain.balanceAfter]).to.deep.equal([
          adjusted.balanceBefore,
          adjusted.balanceAfter,
        ]);
        const [account] = (await client.unary(getBalance, { userId: "i" })).balances;
        expect(account?.balance).to.equal(1070n);
        expect(account?.entryCount).to.equal(4n);
      });

      it("fails with ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED for the same key with other fields", async () => {
        await client.unary(load, { userId: "i", amount: 100n, idempotencyKey: "k" });
        const reuses: [Promise<unknown>, string][] = [
          [client.unary(load, { userId: "i", amount: 101n, idempotencyKey: "k" }), "amount"],
          [client.unary(load, { userId: "i", amount: 100n, currency: "EUR", idempotencyKey: "k" }), "currency"],
          [client.unary(adjustBalance, { userId: "i", amount: 100n, idempotencyKey: "k" }), "method"],
          [client.unary(authorize, { userId: "i", amount: 100n, idempotencyKey: "k" }), "method"],
        ];
        for (const [reuse, field] of reuses) {
          const error = await callError(reuse);
          expect(error.code).to.equal(grpc.status.ALREADY_EXISTS);
          expect(error.reason).to.equal("IDEMPOTENCY_KEY_REUSED");
          // The metadata names what differs, so a client can tell a bug in its retry from a reused key.
          expect(error.metadata).to.deep.include({ idempotency_key: "k", field });
          expect(error.message).to.contain(field);
        }
        const [account] = (await client.unary(getBalance, { userId: "i" })).balances;
        expect(account?.balance).to.equal(100n);
      });

      it("scopes keys to the user", async () => {
        await client.unary(load, { userId: "u1", amount: 1n, idempotencyKey: "shared" });
        const other = await client.unary(load, { userId: "u2", amount: 2n, idempotencyKey: "shared" });
        expect(other.replayed).to.equal(false);
      });

      it("applies concurrent retries of one key exactly once", async () => {
        const calls = Array.from({ length: 50 }, () =>
          client.unary(load, { userId: "race", amount: 7n, idempotencyKey: "same" }),
        );
        const responses = await Promise.all(calls);
        expect(new Set(responses.map((response) => response.entryId)).size).to.equal(1);
        expect(responses.filter((response) => !response.replayed)).to.have.length(1);
        const [account] = (await client.unary(getBalance, { userId: "race" })).balances;
        expect(account?.balance).to.equal(7n);
      });
    });

    describe("input validation", () => {
      const cases: [string, Record<string, unknown>, string, string][] = [
        ["an empty user_id", { userId: "", amount: 1n }, "user_id", "REQUIRED"],
        ["a user_id with spaces", { userId: "a b", amount: 1n }, "user_id", "INVALID_FORMAT"],
        ["a 129-character user_id", { userId: "u".repeat(129), amount: 1n }, "user_id", "TOO_LONG"],
        ["a lower-case currency", { userId: "a", amount: 1n, currency: "usd" }, "currency", "INVALID_FORMAT"],
        ["an unknown currency", { userId: "a", amount: 1n, currency: "ABC" }, "currency", "UNKNOWN_CURRENCY"],
        ["a key with a space", { userId: "a", amount: 1n, idempotencyKey: "a b" }, "idempotency_key", "INVALID_FORMAT"],
        [
          "a 129-character key",
          { userId: "a", amount: 1n, idempotencyKey: "k".repeat(129) },
          "idempotency_key",
          "TOO_LONG",
        ],
      ];
      for (const [name, input, field, reason] of cases) {
        it(`refuses ${name} with INVALID_ARGUMENT and a ${field} violation`, async () => {
          const error = await callError(client.unary(load, input));
          expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
          expect(error.reason).to.equal("INVALID_ARGUMENT");
          expect(error.fieldViolations).to.deep.include({ field, reason });
        });
      }

      it("reports every violation of a request at once", async () => {
        const error = await callError(client.unary(adjustBalance, { userId: "", amount: 0n, currency: "x" }));
        expect(error.fieldViolations.map((violation) => violation.field)).to.have.members([
          "user_id",
          "amount",
          "currency",
        ]);
      });
    });

    describe("GetBalance", () => {
      it("returns every currency with its aggregates, ordered by currency", async () => {
        await client.unary(load, { userId: "g", amount: 1000n, currency: "USD" });
        await client.unary(authorize, { userId: "g", amount: 300n, currency: "USD" });
        await client.unary(adjustBalance, { userId: "g", amount: -200n, currency: "USD" });
        await client.unary(adjustBalance, { userId: "g", amount: 50n, currency: "EUR" });
        const response = await client.unary(getBalance, { userId: "g" });
        expect(response.balances.map((account) => account.currency)).to.deep.equal(["EUR", "USD"]);
        const usd = response.balances[1];
        expect(usd).to.include({ balance: 500n, earned: 1000n, spent: 500n, loaded: 1000n, authorized: 300n });
        expect(usd).to.include({ payout: 0n, paidOut: 0n, entryCount: 3n, overdrawn: false });
        expect(usd?.updatedAt).to.not.equal(undefined);
      });

      it("filters by currency", async () => {
        await client.unary(load, { userId: "g", amount: 1n, currency: "USD" });
        await client.unary(load, { userId: "g", amount: 2n, currency: "EUR" });
        const response = await client.unary(getBalance, { userId: "g", currency: "EUR" });
        expect(response.balances.map((account) => account.balance)).to.deep.equal([2n]);
      });

      it("answers NOT_FOUND for an unknown user and for a currency the user does not hold", async () => {
        let error = await callError(client.unary(getBalance, { userId: "ghost" }));
        expect(error.code).to.equal(grpc.status.NOT_FOUND);
        expect(error.reason).to.equal("ACCOUNT_NOT_FOUND");
        await client.unary(load, { userId: "g", amount: 1n, currency: "USD" });
        error = await callError(client.unary(getBalance, { userId: "g", currency: "EUR" }));
        expect(error.code).to.equal(grpc.status.NOT_FOUND);
      });

      it("refuses an invalid user_id or currency", async () => {
        const error = await callError(client.unary(getBalance, { userId: "", currency: "eur" }));
        expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(error.fieldViolations.map((violation) => violation.field)).to.have.members(["user_id", "currency"]);
      });
    });

    describe("GetPayouts", () => {
      // Requested payouts arrive from the vendor poller; this commits the page it would,
      // through the store's ingest port, for a user with no account yet.
      async function requestPayout(userId: string, currency: string, amount: bigint): Promise<void> {
        const { foldVendorFact } = await import("../../src/domain/vendor-fact.js");
        const { ingest } = server.app.store;
        expect(await ingest.acquireLease("test", Date.now(), 60_000)).to.equal(true);
        const externalId = `payout-${userId}-${currency}`;
        const fact = {
          externalId,
          userId,
          kind: "vendor_payout",
          amountMinor: amount,
          occurredAtMs: Date.now(),
        } as const;
        const outcome = await ingest.commitPage({
          holderId: "test",
          currency,
          fold: foldVendorFact,
          rows: [{ type: "fact", identity: externalId, raw: "{}", fingerprint: externalId, fact }],
        });
        expect(outcome.applied).to.equal(1);
      }

      it("is empty when nobody requested a payout", async () => {
        await client.unary(load, { userId: "p", amount: 1n });
        const response = await client.unary(getPayouts, {});
        expect(response.payouts).to.deep.equal([]);
        expect(response.nextPageToken).to.equal("");
      });

      it("lists outstanding payouts ordered by user and paginates with a token", async () => {
        for (const userId of ["u3", "u1", "u2", "u5", "u4"]) await requestPayout(userId, "EUR", 30n);
        const first = await client.unary(getPayouts, { pageSize: 2 });
        expect(first.payouts.map((payout) => payout.userId)).to.deep.equal(["u1", "u2"]);
        expect(first.payouts[0]).to.include({ amount: 30n, requested: 30n, paidOut: 0n, currency: "EUR" });
        const second = await client.unary(getPayouts, { pageSize: 2, pageToken: first.nextPageToken });
        expect(second.payouts.map((payout) => payout.userId)).to.deep.equal(["u3", "u4"]);
        const third = await client.unary(getPayouts, { pageSize: 2, pageToken: second.nextPageToken });
        expect(third.payouts.map((payout) => payout.userId)).to.deep.equal(["u5"]);
        expect(third.nextPageToken).to.equal("");
        const mine = await client.unary(getPayouts, { userId: "u4" });
        expect(mine.payouts.map((payout) => payout.userId)).to.deep.equal(["u4"]);
      });

      it("refuses a page token it did not issue and a negative page size", async () => {
        let error = await callError(client.unary(getPayouts, { pageToken: "not-a-token" }));
        expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(error.fieldViolations).to.deep.include({ field: "page_token", reason: "INVALID_FORMAT" });
        error = await callError(client.unary(getPayouts, { pageSize: -1 }));
        expect(error.fieldViolations).to.deep.include({ field: "page_size", reason: "OUT_OF_RANGE" });
      });
    });

    describe("store failures", () => {
      it("answers UNAVAILABLE, without driver text, when the database cannot commit or read", async () => {
        await client.unary(load, { userId: "s", amount: 1n });
        if (store === "sqlite") sqliteConnection(server.app.store).close();
        else await cutPostgresDatabase(server.config.dbPath);
        const write = await callError(client.unary(load, { userId: "s", amount: 1n }));
        expect(write.code).to.equal(grpc.status.UNAVAILABLE);
        expect(write.reason).to.equal("STORE_UNAVAILABLE");
        expect(write.details).to.not.match(/sqlite|SQL|database connection|terminat|pg_|postgres/i);
        const read = await callError(client.unary(getBalance, { userId: "s" }));
        expect(read.code).to.equal(grpc.status.UNAVAILABLE);
      });
    });
  });

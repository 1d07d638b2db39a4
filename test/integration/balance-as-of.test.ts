/**
 * GetBalance with as_of, on each store: against the reference model replayed to random instants
 * (including each entry's own instant and the ones around it), plus its error outcomes.
 */
import { expect } from "chai";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { LedgerModel, type ModelAccount, type Operation } from "../support/ledger-model.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, authorize, adjustBalance, getBalance } = LedgerService.method;
const CURRENCIES = ["USD", "EUR"] as const;

/** A seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

interface Snapshot {
  readonly atMs: number;
  readonly accounts: ReadonlyMap<string, ModelAccount>;
}

for (const store of STORE_KINDS)
  describe(`GetBalance as_of on ${store}`, () => {
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

    it("equals the model replayed to random instants", async function () {
      this.timeout(60_000);
      const next = random(12);
      const model = new LedgerModel();
      const timeline: Snapshot[] = [];
      const send = (operation: Operation, request: { userId: string; currency: string; amount: bigint }) => {
        if (operation === "load") return client.unary(load, request);
        if (operation === "authorize") return client.unary(authorize, request);
        return client.unary(adjustBalance, request);
      };
      for (let step = 0; step < 160; step += 1) {
        const operation = (["load", "authorize", "adjust"] as const)[Math.floor(next() * 3)] as Operation;
        const currency = CURRENCIES[Math.floor(next() * 2)] ?? "USD";
        const magnitude = BigInt(1 + Math.floor(next() * 500));
        const amount = operation === "adjust" && next() < 0.5 ? -magnitude : magnitude;
        const { expected } = model.apply({ operation, userId: "u", currency, amount, key: null });
        try {
          const answer = await send(operation, { userId: "u", currency, amount });
          expect(expected.code).to.equal("OK");
          const createdAt = answer.createdAt;
          if (createdAt === undefined) throw new Error("no created_at");
          const accounts = new Map([...model.accounts].map(([key, account]) => [key, { ...account }]));
          timeline.push({ atMs: timestampMs(createdAt), accounts });
        } catch (error) {
          if (!(error instanceof GrpcCallError)) throw error;
          expect(expected.code).to.equal("FAILED_PRECONDITION");
        }
        // Spread the entries over many milliseconds, several sometimes sharing one.
        if (next() < 0.3) await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(next() * 3)));
      }
      const first = timeline[0]?.atMs ?? 0;
      const last = timeline.at(-1)?.atMs ?? 0;
      const instants = [first - 1, first, last, last + 1000];
      for (let i = 0; i < 60; i += 1) instants.push(first + Math.floor(next() * (last - first + 1)));
      for (const snapshot of timeline.filter((_, index) => index % 7 === 0)) instants.push(snapshot.atMs - 1);
      for (const asOfMs of instants) {
        const expected = timeline.filter((snapshot) => snapshot.atMs <= asOfMs).at(-1);
        if (expected === undefined) {
          const error = await callError(client.unary(getBalance, { userId: "u", asOf: timestampFromMs(asOfMs) }));
          expect(error.code, `at ${asOfMs}`).to.equal(grpc.status.NOT_FOUND);
          continue;
        }
        const answer = await client.unary(getBalance, { userId: "u", asOf: timestampFromMs(asOfMs) });
        const expectedCurrencies = CURRENCIES.filter((currency) => expected.accounts.has(`u ${currency}`)).sort();
        expect(
          answer.balances.map((balance) => balance.currency),
          `at ${asOfMs}`,
        ).to.deep.equal(expectedCurrencies);
        for (const balance of answer.balances) {
          const account = expected.accounts.get(`u ${balance.currency}`);
          expect(
            {
              balance: balance.balance,
              earned: balance.earned,
              spent: balance.spent,
              loaded: balance.loaded,
              authorized: balance.authorized,
              declinedCount: balance.declinedCount,
              entryCount: balance.entryCount,
              held: balance.held,
            },
            `${balance.currency} at ${asOfMs}`,
          ).to.deep.equal(account);
          expect(timestampMs(balance.updatedAt ?? timestampFromMs(0))).to.be.at.most(asOfMs);
        }
      }
      // Now (or later) is the current balance.
      const now = await client.unary(getBalance, { userId: "u" });
      const later = await client.unary(getBalance, { userId: "u", asOf: timestampFromMs(Date.now() + 60_000) });
      expect(later.balances.map((balance) => [balance.currency, balance.balance, balance.entryCount])).to.deep.equal(
        now.balances.map((balance) => [balance.currency, balance.balance, balance.entryCount]),
      );
    });

    it("folds forward when a lifetime total has saturated at 2^63 - 1", async () => {
      const INT64_MAX = 2n ** 63n - 1n;
      const lifted = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(INT64_MAX) }, store);
      const liftedClient = new GrpcTestClient(lifted.address);
      try {
        await liftedClient.unary(load, { userId: "s", amount: INT64_MAX });
        await liftedClient.unary(adjustBalance, { userId: "s", amount: -INT64_MAX });
        const middle = await liftedClient.unary(load, { userId: "s", amount: 5n });
        await new Promise((resolve) => setTimeout(resolve, 5));
        await liftedClient.unary(load, { userId: "s", amount: 7n });
        const atMs = timestampMs(middle.createdAt ?? timestampFromMs(0));
        // Past the account's midpoint in time, where the totals are otherwise unfolded from now.
        const answer = await liftedClient.unary(getBalance, { userId: "s", asOf: timestampFromMs(atMs) });
        const balance = answer.balances[0];
        expect([balance?.balance, balance?.earned, balance?.spent, balance?.entryCount]).to.deep.equal([
          5n,
          INT64_MAX,
          INT64_MAX,
          3n,
        ]);
      } finally {
        liftedClient.close();
        await lifted.stop();
      }
    });

    it("filters by currency, and answers NOT_FOUND for a user or instant without entries", async () => {
      await client.unary(load, { userId: "v", amount: 10n, currency: "EUR" });
      const answer = await client.unary(load, { userId: "v", amount: 5n, currency: "USD" });
      const atMs = timestampMs(answer.createdAt ?? timestampFromMs(0));
      const usd = await client.unary(getBalance, { userId: "v", currency: "USD", asOf: timestampFromMs(atMs) });
      expect(usd.balances.map((balance) => [balance.currency, balance.balance])).to.deep.equal([["USD", 5n]]);
      const nobody = await callError(client.unary(getBalance, { userId: "nobody", asOf: timestampFromMs(atMs) }));
      expect(nobody.code).to.equal(grpc.status.NOT_FOUND);
      expect(nobody.reason).to.equal("ACCOUNT_NOT_FOUND");
      const before = await callError(client.unary(getBalance, { userId: "v", asOf: timestampFromMs(0) }));
      expect(before.code).to.equal(grpc.status.NOT_FOUND);
      const bad = await callError(client.unary(getBalance, { userId: "", asOf: timestampFromMs(atMs) }));
      expect(bad.code).to.equal(grpc.status.INVALID_ARGUMENT);
    });
  });

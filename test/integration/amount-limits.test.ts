/**
 * One write-scoped caller must not be able to lock an account: a per-call amount limit far below
 * int64, and lifetime totals that saturate instead of refusing later mutations.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { readConfig } from "../../src/config.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { auditLedger } from "../support/ledger-audit.js";

const { load, adjustBalance, authorize, getBalance } = LedgerService.method;
const INT64_MAX = 2n ** 63n - 1n;

describe("amount limits and lifetime totals", () => {
  let server: TestApp | undefined;
  let client: GrpcTestClient | undefined;
  afterEach(async () => {
    client?.close();
    await server?.stop();
    server = undefined;
  });

  it("refuses an amount above LEDGER_AMOUNT_MINOR_MAX (default 10^15) with INVALID_ARGUMENT on amount", async () => {
    server = await startApp();
    client = new GrpcTestClient(server.address);
    const limit = 10n ** 15n;
    expect((await client.unary(load, { userId: "a", amount: limit })).balanceAfter).to.equal(limit);
    const over = [
      client.unary(load, { userId: "a", amount: limit + 1n }),
      client.unary(authorize, { userId: "a", amount: limit + 1n }),
      client.unary(adjustBalance, { userId: "a", amount: limit + 1n }),
      client.unary(adjustBalance, { userId: "a", amount: -(limit + 1n) }),
    ];
    for (const call of over) {
      const error = await callError(call);
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(error.fieldViolations).to.deep.equal([{ field: "amount", reason: "OUT_OF_RANGE" }]);
    }
    expect((await client.unary(adjustBalance, { userId: "a", amount: -limit })).balanceAfter).to.equal(0n);
  });

  it("validates the setting at start", () => {
    expect(readConfig({}).amountMinorMax).to.equal(10n ** 15n);
    expect(readConfig({ LEDGER_AMOUNT_MINOR_MAX: String(INT64_MAX) }).amountMinorMax).to.equal(INT64_MAX);
    for (const bad of ["0", "-5", "9223372036854775808", "1e15", "abc"]) {
      expect(() => readConfig({ LEDGER_AMOUNT_MINOR_MAX: bad }), bad).to.throw(/LEDGER_AMOUNT_MINOR_MAX/);
    }
  });

  it("Load 2^63-1 then AdjustBalance -(2^63-1) leaves the account open to every later credit; totals saturate", async () => {
    server = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(INT64_MAX) });
    client = new GrpcTestClient(server.address);
    await client.unary(load, { userId: "v", amount: INT64_MAX });
    await client.unary(adjustBalance, { userId: "v", amount: -INT64_MAX });
    expect((await client.unary(load, { userId: "v", amount: 5n })).balanceAfter).to.equal(5n);
    expect((await client.unary(adjustBalance, { userId: "v", amount: 7n })).balanceAfter).to.equal(12n);
    expect((await client.unary(authorize, { userId: "v", amount: 2n })).balanceAfter).to.equal(10n);
    const [account] = (await client.unary(getBalance, { userId: "v" })).balances;
    expect(account).to.include({
      balance: 10n,
      earned: INT64_MAX,
      loaded: INT64_MAX,
      spent: INT64_MAX,
      authorized: 2n,
      entryCount: 5n,
    });
    // The balance itself stays exact: past int64 is still refused.
    await client.unary(load, { userId: "w", amount: INT64_MAX });
    expect((await callError(client.unary(load, { userId: "w", amount: 1n }))).code).to.equal(grpc.status.OUT_OF_RANGE);
    // verify folds the entries the same way and finds the cached accounts equal.
    expect((await auditLedger(server.config.dbPath)).report.mismatches).to.deep.equal([]);
  });
});

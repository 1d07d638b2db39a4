/**
 * The wallet scenario as a correctness test: 10,000 simultaneous AdjustBalance(-2) against a
 * balance of 10,000 over native gRPC must give exactly 5,000 successes and 5,000
 * FAILED_PRECONDITION / INSUFFICIENT_FUNDS, a final balance of 0, and a ledger that verifies.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { verifyLedger } from "../../src/domain/verify.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const CALLS = 10_000;

for (const store of STORE_KINDS)
  describe(`wallet scenario: 10,000 concurrent debits of 2 from 10,000, on ${store}`, () => {
    let server: TestApp;
    let clients: GrpcTestClient[];

    before(async () => {
      server = await startApp({}, store);
      // Several channels, as a load tool with several connections would open.
      clients = Array.from(
        { length: 4 },
        () => new GrpcTestClient(server.address, { "grpc.use_local_subchannel_pool": 1 }),
      );
    });

    after(async () => {
      for (const client of clients) client.close();
      await server.stop();
    });

    it("gives exactly 5,000 OK and 5,000 INSUFFICIENT_FUNDS, balance 0, and verifies", async () => {
      const [first] = clients;
      if (first === undefined) throw new Error("no client");
      await first.unary(LedgerService.method.load, { userId: "wallet-user", amount: 10_000n });

      const outcomes = await Promise.all(
        Array.from({ length: CALLS }, (_, index) =>
          (clients[index % clients.length] ?? first)
            .unary(LedgerService.method.adjustBalance, { userId: "wallet-user", amount: -2n })
            .then(
              () => "OK",
              (error: unknown) =>
                error instanceof GrpcCallError ? `${grpc.status[error.code]}/${error.reason ?? ""}` : String(error),
            ),
        ),
      );
      const histogram: Record<string, number> = {};
      for (const outcome of outcomes) histogram[outcome] = (histogram[outcome] ?? 0) + 1;
      expect(histogram).to.deep.equal({ OK: 5000, "FAILED_PRECONDITION/INSUFFICIENT_FUNDS": 5000 });

      const [account] = (await first.unary(LedgerService.method.getBalance, { userId: "wallet-user" })).balances;
      expect(account?.balance).to.equal(0n);
      expect(account?.spent).to.equal(10_000n);
      expect(account?.entryCount).to.equal(5001n);

      const debits = await server.app.store.withSnapshot((entries) => {
        let count = 0;
        for (const entry of entries) if (entry.userId === "wallet-user" && entry.delta === -2n) count += 1;
        return count;
      });
      expect(debits).to.equal(5000);
      const report = await server.app.store.withSnapshot(verifyLedger);
      expect(report.mismatches).to.deep.equal([]);
      expect(report.entriesChecked).to.equal(5001);
    });
  });

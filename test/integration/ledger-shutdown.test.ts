/**
 * Graceful shutdown under load: calls in flight finish and are durable, calls after the drain
 * starts are refused with UNAVAILABLE / SHUTTING_DOWN, and no acknowledged write is missing
 * from the database afterwards.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger } from "../support/ledger-audit.js";
import { STORE_KINDS } from "../support/stores.js";
import { startApp } from "../support/app.js";

for (const store of STORE_KINDS)
  describe(`graceful shutdown, on ${store}`, () => {
    it("finishes calls in flight, refuses the rest, and loses no acknowledged write", async () => {
      const server = await startApp({}, store);
      const client = new GrpcTestClient(server.address);
      const dbPath = server.config.dbPath;
      try {
        await client.unary(LedgerService.method.load, { userId: "s", amount: 1n });
        const calls = Array.from({ length: 2000 }, (_, index) =>
          client.unary(LedgerService.method.load, { userId: "s", amount: 1n, idempotencyKey: `k${index}` }).then(
            () => "OK",
            (error: unknown) => (error instanceof GrpcCallError ? `${grpc.status[error.code]}` : "OTHER"),
          ),
        );
        // Start the drain once some calls are inside the server.
        while (server.app.store.writeQueueDepth === 0) await new Promise((resolve) => setImmediate(resolve));
        const shutdown = server.app.shutdown();
        const outcomes = await Promise.all(calls);
        await shutdown;

        const ok = outcomes.filter((outcome) => outcome === "OK").length;
        expect(ok, "calls in flight when the drain started finish").to.be.greaterThan(0);
        expect(outcomes.filter((outcome) => outcome !== "OK" && outcome !== "UNAVAILABLE")).to.deep.equal([]);

        const snapshot = await auditLedger(dbPath);
        expect(snapshot.balances.get("s USD"), "every acknowledged load is durable, nothing else is").to.equal(
          BigInt(ok + 1),
        );
        expect(snapshot.entries.length).to.equal(ok + 1);
        expect(snapshot.report.mismatches).to.deep.equal([]);
      } finally {
        client.close();
        await server.stop();
      }
    });

    it("refuses new connections after shutdown", async () => {
      const server = await startApp();
      await server.stop();
      const response = fetch(`${server.baseUrl}/healthz`);
      let refused = false;
      try {
        await response;
      } catch {
        refused = true;
      }
      expect(refused).to.equal(true);
    });
  });

/**
 * A full disk: callers get UNAVAILABLE saying so, reads keep working, nothing half-applied
 * reaches the file, and the service recovers by itself once space is freed. See
 * test/support/disk-faults.ts for the two ways the disk is filled and why.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { pageLimitFault, tryTmpfsFault, type DiskFault } from "../support/disk-faults.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger, keyOf } from "../support/ledger-audit.js";
import { sqliteConnection } from "../support/sqlite-internals.js";

const { load, getBalance } = LedgerService.method;
/** Loads sent before the test gives up on the disk filling. */
const CALLS_MAX = 20_000;
const CALLS_PER_ROUND = 50;

function faults(): (() => DiskFault)[] {
  const tmpfs = tryTmpfsFault();
  // The tmpfs is mounted once here to learn whether mounting works; the test re-creates it.
  tmpfs?.cleanup();
  return tmpfs === undefined ? [pageLimitFault] : [() => tryTmpfsFault() ?? pageLimitFault(), pageLimitFault];
}

for (const makeFault of faults()) {
  const fault = makeFault();
  describe(`disk full (${fault.name})`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;

    before(async () => {
      server = await startApp({ LEDGER_DB: fault.dbPath });
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
      fault.cleanup();
    });

    it("answers UNAVAILABLE with a clear message, keeps the file whole, and recovers once space is freed", async () => {
      const acked = new Map<string, bigint>();
      const failed: string[] = [];
      const messages = new Set<string>();
      let sent = 0;
      const send = async (key: string) => {
        try {
          const answer = await client.unary(load, { userId: "filler", amount: 1n, idempotencyKey: key });
          acked.set(key, answer.entryId);
        } catch (error) {
          if (!(error instanceof GrpcCallError)) throw error;
          expect(error.code, error.message).to.equal(grpc.status.UNAVAILABLE);
          expect(error.reason).to.equal("STORE_UNAVAILABLE");
          messages.add(error.details);
          failed.push(key);
        }
      };
      await send("before-fill");
      fault.fill(sqliteConnection(server.app.store));
      while (failed.length < 3 * CALLS_PER_ROUND && sent < CALLS_MAX) {
        await Promise.all(Array.from({ length: CALLS_PER_ROUND }, () => send(`k${(sent += 1)}`)));
      }
      expect(failed.length, `no failure in ${sent} calls`).to.be.at.least(3 * CALLS_PER_ROUND);
      expect([...messages]).to.deep.equal(["the ledger's disk is full; the write was not applied"]);

      // Reads still answer while the disk is full.
      const during = await client.unary(getBalance, { userId: "filler" });
      expect(during.balances[0]?.balance).to.equal(BigInt(acked.size));

      fault.free(sqliteConnection(server.app.store));
      // No restart and no operator action beyond freeing space: the next calls just work.
      for (const key of failed) {
        const retried = await client.unary(load, { userId: "filler", amount: 1n, idempotencyKey: key });
        expect(retried.replayed, `${key} was reported failed but had been applied`).to.equal(false);
        acked.set(key, retried.entryId);
      }
      for (const key of acked.keys()) {
        const replay = await client.unary(load, { userId: "filler", amount: 1n, idempotencyKey: key });
        expect(replay.replayed).to.equal(true);
        expect(replay.entryId).to.equal(acked.get(key));
      }

      const snapshot = await auditLedger(fault.dbPath);
      expect(snapshot.report.mismatches).to.deep.equal([]);
      expect(snapshot.report.entriesChecked).to.equal(acked.size);
      for (const [key, entryId] of acked) expect(snapshot.entriesByKey.get(keyOf("filler", key))?.id).to.equal(entryId);
      expect(sqliteConnection(server.app.store).pragma("integrity_check", { simple: true })).to.equal("ok");
      console.log(
        `      ${fault.name}: ${sent + 1} loads sent, ${failed.length} UNAVAILABLE while full, ${acked.size} entries verified after recovery`,
      );
    });
  });
}

/**
 * The HTTP side of the single port: Connect JSON over HTTP/1.1 with fetch (what curl sends),
 * GET for side-effect-free RPCs, gRPC-Web, GET /healthz, and unknown routes.
 */
import { expect } from "chai";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { cutPostgresDatabase } from "../support/postgres-server.js";
import { STORE_KINDS } from "../support/stores.js";
import { sqliteConnection } from "../support/sqlite-internals.js";

async function post(server: TestApp, method: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

for (const store of STORE_KINDS)
  describe(`LedgerService over HTTP/1.1 (Connect JSON, gRPC-Web), on ${store}`, () => {
    let server: TestApp;

    beforeEach(async () => {
      // The per-call limit lifted to int64, so that 2^53 + 1 can make the round trip.
      server = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(2n ** 63n - 1n) }, store);
    });

    afterEach(async () => {
      await server.stop();
    });

    it("serves every RPC as Connect JSON with int64 as strings", async () => {
      const loaded = await post(server, "Load", { userId: "alice", amount: "9007199254740993", currency: "EUR" });
      expect(loaded.status).to.equal(200);
      expect(loaded.body).to.include({ balanceAfter: "9007199254740993", replayed: false });

      const authorized = await post(server, "Authorize", { userId: "alice", amount: "3", currency: "EUR" });
      expect(authorized.body).to.include({ decision: "DECISION_APPROVED", balanceAfter: "9007199254740990" });

      const adjusted = await post(server, "AdjustBalance", { userId: "alice", amount: "-990", currency: "EUR" });
      expect(adjusted.body).to.include({ balanceBefore: "9007199254740990", balanceAfter: "9007199254740000" });

      const balance = await post(server, "GetBalance", { userId: "alice" });
      const [account] = balance.body["balances"] as Record<string, unknown>[];
      expect(account).to.include({ currency: "EUR", balance: "9007199254740000", spent: "993", payout: "0" });

      const payouts = await post(server, "GetPayouts", {});
      expect(payouts.body).to.deep.equal({ payouts: [], nextPageToken: "" });
    });

    it("answers GetBalance over HTTP GET, as curl users call read-only RPCs", async () => {
      await post(server, "Load", { userId: "bob", amount: "5" });
      const message = encodeURIComponent(JSON.stringify({ userId: "bob" }));
      const response = await fetch(
        `${server.baseUrl}/ledger.v1.LedgerService/GetBalance?encoding=json&message=${message}`,
      );
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { balances: { balance: string }[] };
      expect(body.balances[0]?.balance).to.equal("5");
    });

    it("maps insufficient funds to HTTP 400 failed_precondition with ErrorInfo", async () => {
      const response = await post(server, "AdjustBalance", { userId: "carol", amount: "-2" });
      expect(response.status).to.equal(400);
      expect(response.body["code"]).to.equal("failed_precondition");
      const [detail] = response.body["details"] as { type: string; debug: { reason: string } }[];
      expect(detail?.type).to.equal("google.rpc.ErrorInfo");
      expect(detail?.debug.reason).to.equal("INSUFFICIENT_FUNDS");
    });

    it("maps each failure to its Connect code and HTTP status", async () => {
      expect((await post(server, "Load", { userId: "", amount: "1" })).body["code"]).to.equal("invalid_argument");
      expect((await post(server, "GetBalance", { userId: "ghost" })).status).to.equal(404);
      await post(server, "Load", { userId: "k", amount: "1", idempotencyKey: "x" });
      const reused = await post(server, "Load", { userId: "k", amount: "2", idempotencyKey: "x" });
      expect([reused.status, reused.body["code"]]).to.deep.equal([409, "already_exists"]);
    });

    it("refuses malformed JSON and an amount outside int64 with invalid_argument", async () => {
      const malformed = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/Load`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      expect(malformed.status).to.equal(400);
      const tooBig = await post(server, "Load", { userId: "a", amount: "9223372036854775808" });
      expect(tooBig.status).to.equal(400);
      expect(tooBig.body["code"]).to.equal("invalid_argument");
    });

    it("serves gRPC-Web", async () => {
      const client = createClient(
        LedgerService,
        createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
      );
      const response = await client.load({ userId: "web", amount: 42n });
      expect(response.balanceAfter).to.equal(42n);
      try {
        await client.adjustBalance({ userId: "web", amount: -43n });
        expect.fail("expected insufficient funds");
      } catch (error) {
        expect(ConnectError.from(error).code).to.equal(Code.FailedPrecondition);
      }
    });

    it("answers GET /healthz with the serving status only, and /healthz/details with the rest", async () => {
      const open = await fetch(`${server.baseUrl}/healthz`);
      expect(open.status).to.equal(200);
      expect(await open.json()).to.deep.equal({ status: "ok" });
      const response = await fetch(`${server.baseUrl}/healthz/details`);
      expect(response.status).to.equal(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body["status"]).to.equal("ok");
      expect(body["database"]).to.include({ reachable: true });
      expect(body["uptimeSeconds"]).to.be.a("number");
      expect(Date.parse(body["serverTime"] as string)).to.be.closeTo(Date.now(), 60_000);
    });

    it("answers 503 on /healthz when the database is unreachable", async () => {
      if (store === "sqlite") sqliteConnection(server.app.store).close();
      else await cutPostgresDatabase(server.config.dbPath);
      const response = await fetch(`${server.baseUrl}/healthz`);
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ status: "unavailable" });
      const details = await fetch(`${server.baseUrl}/healthz/details`);
      expect(details.status).to.equal(503);
      expect(((await details.json()) as Record<string, unknown>)["status"]).to.equal("database_unreachable");
    });

    it("answers 404 JSON for an unknown path", async () => {
      const response = await fetch(`${server.baseUrl}/nope`);
      expect(response.status).to.equal(404);
      expect(((await response.json()) as Record<string, unknown>)["code"]).to.equal("not_found");
    });
  });

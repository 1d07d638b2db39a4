/**
 * The REST routes declared by google.api.http in the proto, over real HTTP/1.1: every route,
 * path and query mapping, error statuses and Connect's error body, refusals of bad path, query
 * and body values, auth, and GET /openapi.json.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { expect } from "chai";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJson } from "@connectrpc/connect/protocol-connect";
import type { JsonValue } from "@bufbuild/protobuf";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { generateApiKey, keyFileLine } from "../../src/rpc/api-keys.js";
import { startApp, type TestApp } from "../support/app.js";
import { httpCall } from "../support/http-call.js";

/** The code, ErrorInfo reason and violated fields of a Connect JSON error body. */
function errorOf(body: Record<string, unknown>) {
  const error = errorFromJson(body as JsonValue, undefined, new ConnectError("not an error body", Code.Unknown));
  return {
    code: error.code,
    reason: error.findDetails(ErrorInfoSchema)[0]?.reason,
    fields: error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((violation) => violation.field) ?? [],
  };
}

describe("REST routes from google.api.http (real HTTP/1.1)", () => {
  let server: TestApp;
  const call = (method: string, path: string, body?: unknown) => httpCall(server.baseUrl, method, path, body);

  before(async () => {
    // The per-call amount limit lifted to int64, so that 2^53 + 1 makes the round trip.
    server = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(2n ** 63n - 1n) });
  });

  after(async () => {
    await server.stop();
  });

  it("serves Load, Authorize, AdjustBalance, GetBalance and GetPayouts with int64 as strings", async () => {
    const loaded = await call("POST", "/v1/users/alice:load", {
      amount: "9007199254740993",
      currency: "EUR",
      idempotencyKey: "l1",
    });
    expect(loaded.status).to.equal(200);
    expect(loaded.json).to.include({
      userId: "alice",
      amount: "9007199254740993",
      balanceAfter: "9007199254740993",
      replayed: false,
    });
    const replay = await call("POST", "/v1/users/alice:load", {
      amount: "9007199254740993",
      currency: "EUR",
      idempotencyKey: "l1",
    });
    expect(replay.json).to.include({ entryId: loaded.json["entryId"], replayed: true });

    const authorized = await call("POST", "/v1/users/alice:authorize", { amount: "3", currency: "EUR" });
    expect(authorized.json).to.include({ decision: "DECISION_APPROVED", balanceAfter: "9007199254740990" });
    const declined = await call("POST", "/v1/users/alice:authorize", { amount: "9007199254740991", currency: "EUR" });
    expect(declined.status).to.equal(200);
    expect(declined.json).to.include({ decision: "DECISION_DECLINED", balanceAfter: "9007199254740990" });

    const adjusted = await call("POST", "/v1/users/alice:adjustBalance", { amount: "-990", currency: "EUR" });
    expect(adjusted.json).to.include({ balanceBefore: "9007199254740990", balanceAfter: "9007199254740000" });

    const balances = await call("GET", "/v1/users/alice/balances");
    expect(balances.status).to.equal(200);
    const [account] = balances.json["balances"] as Record<string, unknown>[];
    expect(account).to.include({ currency: "EUR", balance: "9007199254740000", spent: "993", declinedCount: "1" });

    const all = await call("GET", "/v1/payouts?page_size=5");
    expect(all.json).to.deep.equal({ payouts: [], nextPageToken: "" });
    const mine = await call("GET", "/v1/users/alice/payouts?currency=EUR");
    expect(mine.json).to.deep.equal({ payouts: [], nextPageToken: "" });
  });

  it("maps query parameters by proto or JSON name, and the path wins over the body", async () => {
    await call("POST", "/v1/users/bob:load", { amount: "5", currency: "USD" });
    await call("POST", "/v1/users/bob:load", { amount: "7", currency: "EUR" });
    const usd = await call("GET", "/v1/users/bob/balances?currency=USD");
    expect((usd.json["balances"] as unknown[]).length).to.equal(1);
    const paged = await call("GET", "/v1/payouts?pageSize=1&pageToken=");
    expect(paged.status).to.equal(200);
    // The body names another user; the route's {user_id} decides whose account is credited.
    const credited = await call("POST", "/v1/users/bob:load", {
      userId: "mallory",
      user_id: "mallory",
      amount: "1",
      currency: "USD",
    });
    expect(credited.json).to.include({ userId: "bob", balanceAfter: "6" });
  });

  it("decodes percent-encoded path values, as a user id may hold reserved characters", async () => {
    const loaded = await call("POST", `/v1/users/${encodeURIComponent("ops@example.com")}:load`, { amount: "1" });
    expect(loaded.json).to.include({ userId: "ops@example.com" });
    const colon = await call("POST", "/v1/users/a:b:load", { amount: "1" });
    expect(colon.json).to.include({ userId: "a:b" });
  });

  it("answers errors with the gRPC code's HTTP status and Connect's error body", async () => {
    const insufficient = await call("POST", "/v1/users/carol:adjustBalance", { amount: "-2" });
    expect(insufficient.status).to.equal(400);
    expect(insufficient.json["code"]).to.equal("failed_precondition");
    expect(errorOf(insufficient.json)).to.include({ code: Code.FailedPrecondition, reason: "INSUFFICIENT_FUNDS" });

    const missing = await call("GET", "/v1/users/nobody/balances");
    expect(missing.status).to.equal(404);
    expect(errorOf(missing.json)).to.include({ code: Code.NotFound, reason: "ACCOUNT_NOT_FOUND" });

    await call("POST", "/v1/users/dave:load", { amount: "1", idempotencyKey: "k" });
    const reused = await call("POST", "/v1/users/dave:load", { amount: "2", idempotencyKey: "k" });
    expect(reused.status).to.equal(409);
    expect(errorOf(reused.json)).to.include({ code: Code.AlreadyExists, reason: "IDEMPOTENCY_KEY_REUSED" });

    const invalid = await call("POST", "/v1/users/bad%20user!:load", { amount: "0", currency: "usd" });
    expect(invalid.status).to.equal(400);
    expect(errorOf(invalid.json).fields).to.have.members(["user_id", "amount", "currency"]);
  });

  it("refuses bad path, query and body values with INVALID_ARGUMENT naming the field", async () => {
    const badEncoding = await call("GET", "/v1/users/%E0%A4%A/balances");
    expect(badEncoding.status).to.equal(400);
    expect(errorOf(badEncoding.json)).to.deep.include({ code: Code.InvalidArgument, fields: ["path"] });

    const unknownQuery = await call("GET", "/v1/users/alice/balances?colour=red");
    expect(unknownQuery.status).to.equal(400);
    expect(errorOf(unknownQuery.json).fields).to.deep.equal(["colour"]);

    const pathInQuery = await call("GET", "/v1/users/alice/balances?user_id=bob");
    expect(errorOf(pathInQuery.json).fields).to.deep.equal(["user_id"]);

    const twice = await call("GET", "/v1/payouts?currency=USD&currency=EUR");
    expect(errorOf(twice.json).fields).to.deep.equal(["currency"]);

    const notANumber = await call("GET", "/v1/payouts?page_size=ten");
    expect(notANumber.status).to.equal(400);
    expect(notANumber.json["code"]).to.equal("invalid_argument");

    const queryWithBody = await call("POST", "/v1/users/alice:load?amount=5", { amount: "1" });
    expect(errorOf(queryWithBody.json).fields).to.deep.equal(["amount"]);

    const notJson = await call("POST", "/v1/users/alice:load", "{amount: 1");
    expect(errorOf(notJson.json)).to.deep.include({ code: Code.InvalidArgument, fields: ["body"] });

    const array = await call("POST", "/v1/users/alice:load", "[1]");
    expect(errorOf(array.json).fields).to.deep.equal(["body"]);

    // 2^53 + 1 as a JSON number would arrive as 2^53: refused rather than rounded.
    const unsafe = await call("POST", "/v1/users/alice:load", '{"amount": 9007199254740993}');
    expect(unsafe.status).to.equal(400);
    expect(errorOf(unsafe.json).fields).to.deep.equal(["body"]);
    const balances = await call("GET", "/v1/users/alice/balances?currency=USD");
    expect(balances.status).to.equal(404);
  });

  it("answers 405 with Allow for a known path and another method, 404 for an unknown path", async () => {
    const wrongMethod = await call("DELETE", "/v1/users/alice/balances");
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.headers.get("allow")).to.equal("GET");
    const unknown = await call("GET", "/v1/users/alice/nothing");
    expect(unknown.status).to.equal(404);
  });

  it("refuses a body larger than LEDGER_READ_MAX_BYTES", async () => {
    const big = await call("POST", "/v1/users/alice:load", { amount: "1", idempotencyKey: "x".repeat(70 * 1024) });
    expect(big.status).to.equal(429);
    expect(big.json["code"]).to.equal("resource_exhausted");
  });

  it("serves the committed OpenAPI description at GET /openapi.json", async () => {
    const answer = await call("GET", "/openapi.json");
    expect(answer.status).to.equal(200);
    const committed = JSON.parse(
      readFileSync(new URL("../../gen/ledger/v1/ledger.openapi.json", import.meta.url), "utf8"),
    ) as unknown;
    expect(answer.json).to.deep.equal(committed);
    const paths = Object.keys(answer.json["paths"] as Record<string, unknown>);
    expect(paths).to.have.members([
      "/v1/users/{user_id}:load",
      "/v1/users/{user_id}:authorize",
      "/v1/users/{user_id}:adjustBalance",
      "/v1/users/{payer_user_id}:transfer",
      "/v1/users/{user_id}:setAccountPolicy",
      "/v1/users/{user_id}/balances",
      "/v1/payouts",
      "/v1/users/{user_id}/payouts",
      "/v1/users/{user_id}/entries",
      "/v1/entries/{entry_id}",
      "/v1/users/{user_id}/holds/{hold_id}:capture",
      "/v1/users/{user_id}/holds/{hold_id}:void",
      "/v1/batches",
    ]);
  });
});

describe("REST routes with authentication on", () => {
  let server: TestApp;
  const reader = generateApiKey();

  before(async () => {
    server = await startApp({
      LEDGER_API_KEYS: keyFileLine("reader", ["read"], reader),
      LEDGER_COMPAT: "card,wallet,rewards",
    });
  });

  after(async () => {
    await server.stop();
  });

  it("needs a key with the method's scope, as Connect does", async () => {
    const anonymous = await httpCall(server.baseUrl, "GET", "/v1/users/alice/balances");
    expect(anonymous.status).to.equal(401);
    expect(errorOf(anonymous.json)).to.include({ code: Code.Unauthenticated, reason: "UNAUTHENTICATED" });

    const asReader = { authorization: `Bearer ${reader}` };
    const read = await httpCall(server.baseUrl, "GET", "/v1/users/alice/balances", undefined, asReader);
    expect(read.status).to.equal(404); // Past auth: the account does not exist.
    const write = await httpCall(server.baseUrl, "POST", "/v1/users/alice:load", { amount: "1" }, asReader);
    expect(write.status).to.equal(403);
    expect(errorOf(write.json)).to.include({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
  });

  it("applies the same rule to the compat routes, and leaves ping and /openapi.json open", async () => {
    const load = await httpCall(server.baseUrl, "PUT", "/api/v1/load", {
      userId: "u",
      transactionAmount: { amount: "1", currency: "USD" },
    });
    expect(load.status).to.equal(401);
    const wallet = await httpCall(server.baseUrl, "GET", "/api/users/u", undefined, { authorization: "Bearer wrong" });
    expect(wallet.status).to.equal(401);
    expect(wallet.json).to.deep.equal({ success: false, error: "the API key is not valid" });
    const rewards = await httpCall(server.baseUrl, "GET", "/user/u", undefined, { authorization: `Bearer ${reader}` });
    expect(rewards.status).to.equal(404);
    expect((await httpCall(server.baseUrl, "GET", "/api/ping")).status).to.equal(200);
    expect((await httpCall(server.baseUrl, "GET", "/openapi.json")).status).to.equal(200);
  });
});

describe("REST routes over HTTP/2 (LEDGER_GRPC_SERVER=connect)", () => {
  it("serves them on connect-node's HTTP/2 server too", async () => {
    const server = await startApp({ LEDGER_GRPC_SERVER: "connect" });
    const session = connect(server.baseUrl);
    try {
      const request = (method: string, path: string, body?: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const stream = session.request({ ":method": method, ":path": path, "content-type": "application/json" });
          let status = 0;
          let text = "";
          stream.on("response", (headers) => (status = Number(headers[":status"])));
          stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
          stream.on("end", () => resolve({ status, text }));
          stream.on("error", reject);
          stream.end(body);
        });
      const loaded = await request("POST", "/v1/users/h2:load", '{"amount":"7"}');
      expect(loaded.status).to.equal(200);
      expect(JSON.parse(loaded.text)).to.include({ userId: "h2", balanceAfter: "7" });
      const missing = await request("GET", "/v1/users/nobody/balances");
      expect(missing.status).to.equal(404);
      expect(JSON.parse(missing.text)).to.include({ code: "not_found" });
    } finally {
      session.close();
      await server.stop();
    }
  });
});

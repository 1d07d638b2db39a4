/**
 * The seeds' own APIs (LEDGER_COMPAT) over real HTTP: the card service's load, authorization
 * and ping, the wallet's user and balance routes, the rewards app's user and payouts routes,
 * with their shapes, statuses and error texts, exact major-unit amounts, and idempotency by
 * messageId. Off by default; an unknown profile stops start-up.
 */
import { expect } from "chai";
import { readConfig } from "../../src/config.js";
import { startApp, type TestApp } from "../support/app.js";
import { httpCall } from "../support/http-call.js";

/** The object shapes of `schema` hold for `value`, recursively: required keys present, no others. */
function expectConforms(schema: JsonSchema, value: unknown, at: string): void {
  if (schema.items !== undefined && Array.isArray(value)) {
    value.forEach((item, index) => expectConforms(schema.items ?? {}, item, `${at}[${index}]`));
    return;
  }
  if (schema.properties === undefined) return;
  expect(value, at).to.be.an("object");
  const keys = Object.keys(value as object);
  expect(keys, at).to.include.members(schema.required ?? []);
  expect(Object.keys(schema.properties), at).to.include.members(keys);
  for (const key of keys) {
    expectConforms(schema.properties[key] ?? {}, (value as Record<string, unknown>)[key], `${at}.${key}`);
  }
}

interface JsonSchema {
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: string[];
  readonly items?: JsonSchema;
}

const amount = (value: string, currency = "USD", debitOrCredit?: string) => ({
  amount: value,
  currency,
  ...(debitOrCredit === undefined ? {} : { debitOrCredit }),
});

describe("seed-compatible routes (LEDGER_COMPAT=card,wallet,rewards)", () => {
  let server: TestApp;
  const call = (method: string, path: string, body?: unknown) => httpCall(server.baseUrl, method, path, body);

  before(async () => {
    // The per-call amount limit lifted to int64, so that 2^53 + 1 minor units make the round trip.
    server = await startApp({ LEDGER_COMPAT: "card,wallet,rewards", LEDGER_AMOUNT_MINOR_MAX: String(2n ** 63n - 1n) });
  });

  after(async () => {
    await server.stop();
  });

  describe("GET /openapi.json", () => {
    type Operation = {
      tags?: string[];
      parameters?: { name: string; in: string }[];
      responses: Record<string, { content: { "application/json": { schema: JsonSchema } } }>;
    };
    const operations = async () =>
      ((await call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, Operation>> }).paths;

    it("describes every route of the profiles served, beside the proto's REST routes", async () => {
      const paths = await operations();
      const described = Object.entries(paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, operation]) => (operation.tags ?? []).some((tag) => tag.startsWith("compat: ")))
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      );
      expect(described.sort()).to.deep.equal([
        "GET /api/ping",
        "GET /api/users/{userId}",
        "GET /user/{id}",
        "GET /user/{id}/payouts",
        "PUT /api/users/{userId}/balance",
        "PUT /api/v1/authorization",
        "PUT /api/v1/load",
      ]);
      expect(paths["/user/{id}/payouts"]?.["get"]?.parameters).to.deep.equal([
        { name: "id", in: "path", required: true, schema: { type: "string" } },
      ]);
      expect(Object.keys(paths).some((path) => path.startsWith("/v1/users/"))).to.equal(true);
    });

    it("describes the answers as the routes give them", async () => {
      const paths = await operations();
      await call("PUT", "/api/users/doc1/balance", { amount: 5 });
      const answers: [Operation | undefined, string, { status: number; json: unknown }][] = [
        [
          paths["/api/v1/load"]?.["put"],
          "201",
          await call("PUT", "/api/v1/load", {
            userId: "doc1",
            messageId: "doc-m1",
            transactionAmount: amount("1.00"),
          }),
        ],
        [paths["/api/users/{userId}"]?.["get"], "200", await call("GET", "/api/users/doc1")],
        [paths["/user/{id}"]?.["get"], "200", await call("GET", "/user/doc1")],
        [paths["/user/{id}"]?.["get"], "404", await call("GET", "/user/nobody-here")],
        [paths["/user/{id}/payouts"]?.["get"], "200", await call("GET", "/user/doc1/payouts")],
        [paths["/api/ping"]?.["get"], "200", await call("GET", "/api/ping")],
        [
          paths["/api/v1/authorization"]?.["put"],
          "201",
          await call("PUT", "/api/v1/authorization", {
            userId: "doc1",
            messageId: "doc-m2",
            transactionAmount: amount("100.00"),
          }),
        ],
        [
          paths["/api/users/{userId}/balance"]?.["put"],
          "400",
          await call("PUT", "/api/users/doc1/balance", { amount: -100 }),
        ],
      ];
      for (const [operation, status, answer] of answers) {
        expect(answer.status).to.equal(Number(status));
        const schema = operation?.responses[status]?.content["application/json"].schema;
        expect(schema, status).to.not.equal(undefined);
        expectConforms(schema ?? {}, answer.json, "answer");
      }
    });
  });

  describe("card", () => {
    it("loads and authorizes in major units, answering 201 with the balance", async () => {
      const load = await call("PUT", "/api/v1/load", {
        userId: "c1",
        messageId: "m1",
        transactionAmount: amount("100.23", "USD", "CREDIT"),
      });
      expect(load.status).to.equal(201);
      expect(load.json).to.deep.equal({ userId: "c1", messageId: "m1", balance: amount("100.23", "USD", "CREDIT") });

      const approved = await call("PUT", "/api/v1/authorization", {
        userId: "c1",
        messageId: "m2",
        transactionAmount: amount("0.23", "USD", "DEBIT"),
      });
      expect(approved.status).to.equal(201);
      expect(approved.json).to.deep.equal({
        userId: "c1",
        messageId: "m2",
        responseCode: "APPROVED",
        balance: amount("100.00", "USD", "CREDIT"),
      });

      // A decline is the card network's answer, not an error, and leaves the balance as it was.
      const declined = await call("PUT", "/api/v1/authorization", {
        userId: "c1",
        messageId: "m3",
        transactionAmount: amount("100.01", "USD", "DEBIT"),
      });
      expect(declined.status).to.equal(201);
      expect(declined.json).to.deep.include({ responseCode: "DECLINED", balance: amount("100.00", "USD", "CREDIT") });

      const ledger = await call("GET", "/v1/users/c1/balances");
      const [account] = ledger.json["balances"] as Record<string, unknown>[];
      expect(account).to.include({ balance: "10000", loaded: "10023", authorized: "23", declinedCount: "1" });
    });

    it("converts amounts exactly with the currency's minor units, as numbers or strings", async () => {
      const yen = await call("PUT", "/api/v1/load", {
        userId: "c2",
        transactionAmount: { amount: 1500, currency: "JPY" },
      });
      expect(yen.json["balance"]).to.deep.equal(amount("1500", "JPY", "CREDIT"));
      const dinar = await call("PUT", "/api/v1/load", { userId: "c2", transactionAmount: amount("1.005", "BHD") });
      expect(dinar.json["balance"]).to.deep.equal(amount("1.005", "BHD", "CREDIT"));
      // 2^53 + 1 cents, sent as a JSON number: kept exact from its text, never a double.
      const big = await call(
        "PUT",
        "/api/v1/load",
        '{"userId":"c3","transactionAmount":{"amount":90071992547409.93,"currency":"USD"}}',
      );
      expect(big.json["balance"]).to.deep.equal(amount("90071992547409.93", "USD", "CREDIT"));
      const ledger = await call("GET", "/v1/users/c3/balances");
      expect((ledger.json["balances"] as Record<string, unknown>[])[0]).to.include({ balance: "9007199254740993" });
    });

    it("makes messageId the idempotency key: a retry answers the same, other fields are refused", async () => {
      const body = { userId: "c4", messageId: "once", transactionAmount: amount("10.00") };
      const first = await call("PUT", "/api/v1/load", body);
      const retry = await call("PUT", "/api/v1/load", body);
      expect(retry.status).to.equal(201);
      expect(retry.json).to.deep.equal(first.json);
      const changed = await call("PUT", "/api/v1/load", { ...body, transactionAmount: amount("11.00") });
      expect(changed.status).to.equal(409);
      expect(changed.json).to.deep.include({ code: "already_exists" });
      const ledger = await call("GET", "/v1/users/c4/balances");
      expect((ledger.json["balances"] as Record<string, unknown>[])[0]).to.include({
        balance: "1000",
        entryCount: "1",
      });
    });

    it("refuses bad bodies with 400 and the card API's {message, code}", async () => {
      const cases: unknown[] = [
        "{not json",
        { transactionAmount: amount("1") },
        { userId: "c5" },
        { userId: "c5", transactionAmount: amount("1.001") },
        { userId: "c5", transactionAmount: amount("one") },
        { userId: "c5", transactionAmount: amount("1", "XYZ1") },
        { userId: "c5", transactionAmount: amount("1", "USD", "DEBIT") },
        { userId: "c5", transactionAmount: amount("0") },
        { userId: "bad user!", transactionAmount: amount("1") },
      ];
      for (const body of cases) {
        const answer = await call("PUT", "/api/v1/load", body);
        expect(answer.status, JSON.stringify(body)).to.equal(400);
        expect(answer.json["code"], JSON.stringify(body)).to.equal("invalid_argument");
        expect(answer.json["message"], JSON.stringify(body)).to.be.a("string").and.not.equal("");
      }
      expect((await call("GET", "/v1/users/c5/balances")).status).to.equal(404);
    });

    it("answers GET /api/ping with the server time", async () => {
      const ping = await call("GET", "/api/ping");
      expect(ping.status).to.equal(200);
      expect(Date.parse(String(ping.json["serverTime"]))).to.be.closeTo(Date.now(), 60_000);
    });
  });

  describe("wallet", () => {
    it("reads and adjusts a balance in major units with {success, data}", async () => {
      await call("PUT", "/api/v1/load", { userId: "w1", transactionAmount: amount("10") });
      const read = await call("GET", "/api/users/w1");
      expect(read.status).to.equal(200);
      expect(read.text).to.equal('{"success":true,"data":{"id":"w1","balance":10}}');
      const debit = await call("PUT", "/api/users/w1/balance", '{"amount": -2}');
      expect(debit.text).to.equal('{"success":true,"data":{"id":"w1","balance":8}}');
      const credit = await call("PUT", "/api/users/w1/balance", { amount: "0.5" });
      expect(credit.text).to.equal('{"success":true,"data":{"id":"w1","balance":8.5}}');
    });

    it("refuses an overdraft with the wallet's insufficient-funds error and changes nothing", async () => {
      await call("PUT", "/api/users/w2/balance", { amount: 3 });
      const refused = await call("PUT", "/api/users/w2/balance", { amount: -4 });
      expect(refused.status).to.equal(400);
      expect(refused.json).to.deep.equal({ success: false, error: "Insufficient funds" });
      expect((await call("GET", "/api/users/w2")).json).to.deep.equal({
        success: true,
        data: { id: "w2", balance: 3 },
      });
    });

    it("answers 404 for an unknown user and 400 for a bad amount", async () => {
      const missing = await call("GET", "/api/users/nobody");
      expect(missing.status).to.equal(404);
      expect(missing.json).to.deep.equal({ success: false, error: "User not found" });
      for (const body of [{ amount: "two" }, { amount: 0.001 }, {}, { amount: 0 }]) {
        const answer = await call("PUT", "/api/users/w3/balance", body);
        expect(answer.status, JSON.stringify(body)).to.equal(400);
        expect(answer.json["success"], JSON.stringify(body)).to.equal(false);
      }
    });
  });

  describe("rewards", () => {
    it("answers GET /user/:id with the account's aggregates in major units", async () => {
      await call("PUT", "/api/v1/load", { userId: "r1", transactionAmount: amount("12.50", "EUR") });
      await call("PUT", "/api/v1/authorization", { userId: "r1", transactionAmount: amount("2.25", "EUR") });
      const user = await call("GET", "/user/r1");
      expect(user.status).to.equal(200);
      expect(user.text).to.equal(
        '{"id":"r1","currency":"EUR","balance":10.25,"earned":12.5,"spent":2.25,"payout":0,"paidOut":0,"payoutOutstanding":0}',
      );
    });

    it("asks for ?currency= when the user holds several, and answers 404 for an unknown user", async () => {
      await call("PUT", "/api/v1/load", { userId: "r2", transactionAmount: amount("1", "EUR") });
      await call("PUT", "/api/v1/load", { userId: "r2", transactionAmount: amount("2", "USD") });
      const ambiguous = await call("GET", "/user/r2");
      expect(ambiguous.status).to.equal(400);
      expect(String(ambiguous.json["error"])).to.match(/EUR, USD/);
      const usd = await call("GET", "/user/r2?currency=USD");
      expect(usd.json).to.include({ currency: "USD", balance: 2 });
      expect((await call("GET", "/user/nobody")).status).to.equal(404);
    });

    it("lists a user's outstanding payouts", async () => {
      // Requested payouts arrive from the vendor poller; this commits the page it would, through
      // the store's ingest port.
      const { foldVendorFact } = await import("../../src/domain/vendor-fact.js");
      const { ingest } = server.app.store;
      expect(await ingest.acquireLease("test", Date.now(), 60_000)).to.equal(true);
      const fact = {
        externalId: "payout-r3",
        userId: "r3",
        kind: "vendor_payout",
        amountMinor: 350n,
        occurredAtMs: Date.now(),
      } as const;
      const outcome = await ingest.commitPage({
        holderId: "test",
        currency: "EUR",
        fold: foldVendorFact,
        rows: [{ type: "fact", identity: "payout-r3", raw: "{}", fingerprint: "payout-r3", fact }],
      });
      expect(outcome.applied).to.equal(1);
      const payouts = await call("GET", "/user/r3/payouts");
      expect(payouts.status).to.equal(200);
      expect(payouts.text).to.equal(
        '{"id":"r3","payouts":[{"currency":"EUR","amount":3.5,"requested":3.5,"paidOut":0}]}',
      );
      expect((await call("GET", "/user/nobody/payouts")).json).to.deep.equal({ id: "nobody", payouts: [] });
    });
  });
});

describe("seed-compatible routes are off by default and validated", () => {
  it("serves none of them without LEDGER_COMPAT", async () => {
    const server = await startApp();
    try {
      for (const [method, path] of [
        ["PUT", "/api/v1/load"],
        ["GET", "/api/ping"],
        ["GET", "/api/users/u"],
        ["GET", "/user/u"],
      ] as const) {
        expect((await httpCall(server.baseUrl, method, path, method === "PUT" ? {} : undefined)).status, path).to.equal(
          404,
        );
      }
      const { paths } = (await httpCall(server.baseUrl, "GET", "/openapi.json")).json as { paths: object };
      expect(Object.keys(paths).filter((path) => !path.startsWith("/v1/"))).to.deep.equal([]);
    } finally {
      await server.stop();
    }
  });

  it("serves only the profiles named", async () => {
    const server = await startApp({ LEDGER_COMPAT: "wallet" });
    try {
      expect((await httpCall(server.baseUrl, "GET", "/api/ping")).status).to.equal(404);
      expect((await httpCall(server.baseUrl, "GET", "/api/users/u")).status).to.equal(404);
      expect((await httpCall(server.baseUrl, "GET", "/api/users/u")).json).to.deep.equal({
        success: false,
        error: "User not found",
      });
      const { paths } = (await httpCall(server.baseUrl, "GET", "/openapi.json")).json as { paths: object };
      expect(Object.keys(paths).filter((path) => !path.startsWith("/v1/"))).to.deep.equal([
        "/api/users/{userId}",
        "/api/users/{userId}/balance",
      ]);
    } finally {
      await server.stop();
    }
  });

  it("refuses an unknown profile name at start-up", () => {
    expect(() => readConfig({ LEDGER_COMPAT: "card,walet" })).to.throw(
      /LEDGER_COMPAT lists unknown profile\(s\) walet; known: card, wallet, rewards/,
    );
    expect(readConfig({ LEDGER_COMPAT: " card , rewards " }).compat).to.deep.equal(["card", "rewards"]);
  });
});

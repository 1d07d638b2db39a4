/**
 * The JSON int64 rule on every protocol that carries JSON: a JSON string of -?[0-9]+ or a JSON
 * number that is a safe integer; anything else is INVALID_ARGUMENT with a BadRequest field
 * violation naming the field, never a credit of some other amount.
 */
import { expect } from "chai";
import { startApp, type TestApp } from "../support/app.js";

const LOAD = "/ledger.v1.LedgerService/Load";

interface ConnectErrorBody {
  code?: string;
  details?: { type: string; debug?: { fieldViolations?: { field: string; reason: string }[] } }[];
  balanceAfter?: string;
}

async function connectLoad(
  server: TestApp,
  amountJson: string,
  userId: string,
): Promise<{ status: number; body: ConnectErrorBody }> {
  const response = await fetch(`${server.baseUrl}${LOAD}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"userId":"${userId}","amount":${amountJson},"idempotencyKey":"k-${userId}"}`,
  });
  return { status: response.status, body: (await response.json()) as ConnectErrorBody };
}

function violatedFields(body: ConnectErrorBody): string[] {
  const badRequest = body.details?.find((detail) => detail.type === "google.rpc.BadRequest");
  return (badRequest?.debug?.fieldViolations ?? []).map((violation) => violation.field);
}

function grpcWebFrame(json: string): Buffer {
  const payload = Buffer.from(json);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

describe("JSON int64 fields: one strict rule on every JSON protocol", () => {
  let server: TestApp;
  // The per-call limit lifted to int64, so that amounts past 2^53 reach the JSON rule and the store.
  beforeEach(async () => (server = await startApp({ LEDGER_AMOUNT_MINOR_MAX: String(2n ** 63n - 1n) })));
  afterEach(async () => server.stop());

  const refused = [
    "9007199254740993",
    "9007199254740992",
    '"0x10"',
    '"+7"',
    '" 7"',
    '"7 "',
    '"1e3"',
    '"7.0"',
    "7.5",
    "1e3",
    '""',
    "true",
    "-9007199254740993",
  ];
  for (const amount of refused) {
    it(`Connect JSON: refuses amount ${amount} with INVALID_ARGUMENT naming the field, and applies nothing`, async () => {
      const { status, body } = await connectLoad(server, amount, "u-refused");
      expect(status, JSON.stringify(body)).to.equal(400);
      expect(body.code).to.equal("invalid_argument");
      expect(violatedFields(body)).to.deep.equal(["amount"]);
      const balance = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/GetBalance`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"userId":"u-refused"}',
      });
      expect(balance.status).to.equal(404);
    });
  }

  it("Connect JSON: accepts a digit string of any int64 size and a safe-integer number, exactly", async () => {
    expect((await connectLoad(server, '"9007199254740993"', "u1")).body.balanceAfter).to.equal("9007199254740993");
    expect((await connectLoad(server, "9007199254740991", "u2")).body.balanceAfter).to.equal("9007199254740991");
    expect((await connectLoad(server, "7", "u3")).body.balanceAfter).to.equal("7");
  });

  it("Connect JSON over a gzip-compressed body: the same rule", async () => {
    const { gzipSync } = await import("node:zlib");
    const response = await fetch(`${server.baseUrl}${LOAD}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync('{"userId":"gz","amount":"0x10"}'),
    });
    const body = (await response.json()) as ConnectErrorBody;
    expect(response.status).to.equal(400);
    expect(violatedFields(body)).to.deep.equal(["amount"]);
  });

  it("gRPC-Web JSON: refuses a number past 2^53 with INVALID_ARGUMENT (grpc-status 3) and accepts a digit string", async () => {
    const send = (json: string) =>
      fetch(`${server.baseUrl}${LOAD}`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+json", "x-grpc-web": "1" },
        body: grpcWebFrame(json),
      });
    const bad = await send('{"userId":"gw","amount":9007199254740993}');
    const badBytes = Buffer.from(await bad.arrayBuffer()).toString("latin1");
    expect(bad.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(badBytes)?.[1]).to.equal("3");
    const good = await send('{"userId":"gw","amount":"9007199254740993"}');
    const goodBytes = Buffer.from(await good.arrayBuffer()).toString("latin1");
    expect(goodBytes).to.include('"balanceAfter":"9007199254740993"');
  });

  it("REST (google.api.http routes): the same rule on the body", async () => {
    const post = (amountJson: string) =>
      fetch(`${server.baseUrl}/v1/users/rest-user:load`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"amount":${amountJson}}`,
      });
    for (const amount of ['"0x10"', '"+7"', '" 7"', "7.5"]) {
      const response = await post(amount);
      const body = (await response.json()) as ConnectErrorBody;
      expect(response.status, amount).to.equal(400);
      expect(violatedFields(body), amount).to.deep.equal(["amount"]);
    }
    const ok = await post('"9007199254740993"');
    expect(((await ok.json()) as ConnectErrorBody).balanceAfter).to.equal("9007199254740993");
  });
});

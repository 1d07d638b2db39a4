/**
 * The lean unary Connect path over HTTP/1.1 (src/rpc/connect-http1/) and connect-node answer
 * every HTTP/1.1 request alike: the same status, the same headers (bar the date) and the same
 * body, for answers and errors, JSON and binary, compressed answers, compressed requests, GET
 * requests, `connect-timeout-ms`, bad bodies, bodies over the size bound and unknown paths. The
 * same requests run against a server of each kind (LEDGER_HTTP1_UNARY=lean and =connect), on
 * fresh databases, and their transcripts must be equal. A lean-only server then shows which of
 * those requests the lean path takes itself, so the comparison is not between two connect-nodes.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { expect } from "chai";
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createLeanUnaryHandler } from "../../src/rpc/connect-http1/unary-handler.js";
import { HealthServiceImpl, HealthState } from "../../src/rpc/health.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { LoadRequestSchema, LoadResponseSchema } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp } from "../support/app.js";

interface HttpCall {
  readonly name: string;
  readonly method?: "POST" | "GET";
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
}

interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const LEDGER = "/ledger.v1.LedgerService";
const JSON_TYPE = { "content-type": "application/json" };
const json = (name: string, method: string, body: object, headers: Record<string, string> = {}): HttpCall => ({
  name,
  path: `${LEDGER}/${method}`,
  headers: { ...JSON_TYPE, ...headers },
  body: JSON.stringify(body),
});
const getQuery = (message: object) =>
  `?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`;
// A bad int64 this long makes an error body over connect's 1,024-byte compression threshold.
const LONG_AMOUNT = "9".repeat(1100);

const CALLS: HttpCall[] = [
  json("load", "Load", { userId: "alice", amount: "1000", idempotencyKey: "k1" }),
  json("replayed load", "Load", { userId: "alice", amount: "1000", idempotencyKey: "k1" }),
  json("idempotency key reused", "Load", { userId: "alice", amount: "999", idempotencyKey: "k1" }),
  json("debit", "AdjustBalance", { userId: "alice", amount: "-400" }),
  json("insufficient funds", "AdjustBalance", { userId: "alice", amount: "-4000" }),
  json("bad currency", "AdjustBalance", { userId: "alice", amount: "0", currency: "usd" }),
  json("authorize", "Authorize", { userId: "alice", amount: "700" }),
  json("balance", "GetBalance", { userId: "alice" }),
  json("unknown account", "GetBalance", { userId: "nobody" }),
  json("bad user id", "GetBalance", { userId: "bad user!" }),
  json("bad page token", "GetPayouts", { pageToken: "not-a-token" }),
  json("payouts", "GetPayouts", {}),
  json("balance, protocol version header", "GetBalance", { userId: "alice" }, { "connect-protocol-version": "1" }),
  { name: "health", path: "/grpc.health.v1.Health/Check", headers: JSON_TYPE, body: "{}" },
  { name: "malformed JSON", path: `${LEDGER}/Load`, headers: JSON_TYPE, body: "{not json" },
  { name: "empty body", path: `${LEDGER}/GetBalance`, headers: JSON_TYPE, body: "" },
  { name: "int64 as a JSON number", path: `${LEDGER}/Load`, headers: JSON_TYPE, body: '{"userId":"bob","amount":5}' },
  {
    name: "binary protobuf",
    path: `${LEDGER}/Load`,
    headers: { "content-type": "application/proto" },
    body: Buffer.from(toBinary(LoadRequestSchema, create(LoadRequestSchema, { userId: "bob", amount: 7n }))),
  },
  {
    name: "binary protobuf, bad bytes",
    path: `${LEDGER}/Load`,
    headers: { "content-type": "application/proto" },
    body: Buffer.from([0xff, 0xff, 0xff]),
  },
  json(
    "compressed answer (accept-encoding gzip)",
    "Load",
    { userId: "bob", amount: LONG_AMOUNT },
    { "accept-encoding": "gzip" },
  ),
  json(
    "compressed answer (accept-encoding br)",
    "Load",
    { userId: "bob", amount: LONG_AMOUNT },
    { "accept-encoding": "br;q=1, gzip;q=0.5" },
  ),
  json("answer under the compression threshold", "GetBalance", { userId: "alice" }, { "accept-encoding": "gzip, br" }),
  {
    name: "compressed request",
    path: `${LEDGER}/Load`,
    headers: { ...JSON_TYPE, "content-encoding": "gzip" },
    body: gzipSync(JSON.stringify({ userId: "carol", amount: "5" })),
  },
  {
    name: "unsupported request compression",
    path: `${LEDGER}/Load`,
    headers: { ...JSON_TYPE, "content-encoding": "zstd" },
    body: "{}",
  },
  json("timeout", "GetBalance", { userId: "alice" }, { "connect-timeout-ms": "5000" }),
  json("malformed timeout", "GetBalance", { userId: "alice" }, { "connect-timeout-ms": "soon" }),
  { name: "GET", method: "GET", path: `${LEDGER}/GetBalance${getQuery({ userId: "alice" })}` },
  { name: "GET of a mutation", method: "GET", path: `${LEDGER}/Load${getQuery({ userId: "alice", amount: "1" })}` },
  {
    name: "charset in the content type",
    path: `${LEDGER}/GetBalance`,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: '{"userId":"alice"}',
  },
  { name: "unknown content type", path: `${LEDGER}/GetBalance`, headers: { "content-type": "text/plain" }, body: "{}" },
  {
    name: "body over the size bound",
    path: `${LEDGER}/Load`,
    headers: JSON_TYPE,
    body: JSON.stringify({ userId: "a".repeat(70 * 1024), amount: "1" }),
  },
  { name: "unknown method", path: `${LEDGER}/Nope`, headers: JSON_TYPE, body: "{}" },
  { name: "query string on a POST", path: `${LEDGER}/GetBalance?x=1`, headers: JSON_TYPE, body: '{"userId":"alice"}' },
];

function send(baseUrl: string, call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = call.body === undefined ? undefined : Buffer.from(call.body);
    const outgoing = httpRequest(
      `${baseUrl}${call.path}`,
      {
        method: call.method ?? "POST",
        headers: { ...call.headers, ...(body === undefined ? {} : { "content-length": String(body.length) }) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** An answer with what differs between two servers left out: the date, and the ledger's timestamps. */
function comparable(answer: HttpAnswer): unknown {
  const { date: _date, ...headers } = answer.headers;
  const encoding = headers["content-encoding"];
  const raw =
    encoding === "gzip" ? gunzipSync(answer.body) : encoding === "br" ? brotliDecompressSync(answer.body) : answer.body;
  // The only binary call is a Load: its answer is decoded and compared as JSON.
  const text =
    headers["content-type"] === "application/proto"
      ? toJsonString(LoadResponseSchema, fromBinary(LoadResponseSchema, raw))
      : raw.toString("utf8");
  const { "content-length": _length, ...rest } = headers;
  // Timestamps differ between the two servers, and with them the length of a binary answer.
  const length = headers["content-type"] === "application/proto" ? "<binary>" : headers["content-length"];
  return {
    status: answer.status,
    headers: { ...rest, "content-length": length },
    body: text.replace(/"(createdAt|updatedAt)":"[^"]*"/g, '"$1":"<time>"'),
  };
}

async function transcript(engine: "lean" | "connect"): Promise<unknown[]> {
  const server = await startApp({ LEDGER_HTTP1_UNARY: engine });
  try {
    const answers: unknown[] = [];
    for (const call of CALLS)
      answers.push({ name: call.name, ...(comparable(await send(server.baseUrl, call)) as object) });
    return answers;
  } finally {
    await server.stop();
  }
}

describe("lean HTTP/1.1 unary path and connect-node answer alike", () => {
  it("gives the same status, headers and body for every request", async () => {
    const lean = await transcript("lean");
    const connectNode = await transcript("connect");
    expect(lean).to.have.length(CALLS.length);
    for (let index = 0; index < CALLS.length; index++)
      expect(lean[index], CALLS[index]?.name).to.deep.equal(connectNode[index]);
    // The transcript is worth comparing only if it holds what it is meant to.
    const statuses = lean as { name: string; status: number; headers: IncomingHttpHeaders }[];
    const byName = (name: string) => statuses.find((answer) => answer.name === name);
    expect(byName("insufficient funds")?.status).to.equal(400);
    expect(byName("unknown account")?.status).to.equal(404);
    expect(byName("compressed answer (accept-encoding gzip)")?.headers["content-encoding"]).to.equal("gzip");
    expect(byName("compressed request")?.status).to.equal(200);
    expect(byName("GET")?.status).to.equal(200);
    expect(byName("malformed timeout")?.status).to.equal(400);
    expect(byName("body over the size bound")?.status).to.equal(429);
  });

  it("takes unary Connect POSTs itself and declines the rest untouched", async () => {
    const lean = createLeanUnaryHandler({
      interceptors: [],
      services: [{ service: Health, impl: new HealthServiceImpl(new HealthState([""])) }],
      readMaxBytes: 1024,
    });
    // 599: declined, which in the service means connect-node serves it.
    const server = createServer((request, response) => {
      if (lean(request, response)) return;
      response.writeHead(599);
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const check = "/grpc.health.v1.Health/Check";
    try {
      const status = async (call: Omit<HttpCall, "name">) => (await send(baseUrl, { name: "", ...call })).status;
      expect(await status({ path: check, headers: JSON_TYPE, body: "{}" })).to.equal(200);
      expect(await status({ path: check, headers: { "content-type": "application/proto" }, body: "" })).to.equal(200);
      expect(await status({ path: check, headers: { ...JSON_TYPE, "accept-encoding": "gzip" }, body: "{}" })).to.equal(
        200,
      );
      expect(await status({ path: check, headers: JSON_TYPE, body: "{not json" })).to.equal(400);
      expect(await status({ method: "GET", path: `${check}?connect=v1&encoding=json&message=%7B%7D` })).to.equal(599);
      expect(
        await status({ path: check, headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: gzipSync("{}") }),
      ).to.equal(599);
      expect(
        await status({ path: check, headers: { ...JSON_TYPE, "connect-timeout-ms": "100" }, body: "{}" }),
      ).to.equal(599);
      expect(
        await status({ path: check, headers: { "content-type": "application/json; charset=utf-8" }, body: "{}" }),
      ).to.equal(599);
      expect(await status({ path: check, headers: JSON_TYPE, body: "x".repeat(2048) })).to.equal(599);
      expect(await status({ path: `${check}?x=1`, headers: JSON_TYPE, body: "{}" })).to.equal(599);
      expect(await status({ path: "/grpc.health.v1.Health/Watch", headers: JSON_TYPE, body: "{}" })).to.equal(599);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

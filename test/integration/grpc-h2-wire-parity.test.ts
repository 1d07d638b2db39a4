/**
 * Our own gRPC engine on node:http2 (`LEDGER_GRPC_SERVER=http2`) and @grpc/grpc-js answer alike
 * on the wire: the same raw HTTP/2 requests go to a server of each kind, on fresh databases, and
 * the status, response headers (bar `date`), message bytes and trailers must be equal, for
 * answers, domain errors, auth refusals, every transport error (unknown method, wrong content
 * type, bad bytes, a message over the bound, two or no messages, unsupported compression, a
 * malformed or passed deadline), compressed requests, a server stream and a bidi stream.
 */
import { connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { deflateSync, gzipSync } from "node:zlib";
import { expect } from "chai";
import { create, fromBinary, toBinary, toJson, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Health, HealthCheckRequestSchema } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection, ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  AdjustBalanceRequestSchema,
  GetBalanceRequestSchema,
  LedgerService,
  LoadRequestSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import { startApp } from "../support/app.js";

const ENGINES = ["http2", "grpc-js"] as const;
const READ_MAX_BYTES = 4096;

interface WireRequest {
  readonly name: string;
  readonly path: string;
  readonly headers?: OutgoingHttpHeaders;
  /** DATA chunks, sent in order; `delayMs` waits before sending the first. */
  readonly chunks: readonly Buffer[];
  readonly delayMs?: number;
  /** For streams that never end by themselves: reset after this many response messages. */
  readonly cancelAfterMessages?: number;
}

interface WireAnswer {
  readonly name: string;
  readonly headers: Record<string, unknown>;
  readonly data: string;
  readonly trailers: Record<string, unknown>;
}

function frame(bytes: Uint8Array, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(bytes.byteLength, 1);
  return Buffer.concat([prefix, bytes]);
}

function message<S extends DescMessage>(schema: S, init: MessageInitShape<S>): Buffer {
  return Buffer.from(toBinary(schema, create(schema, init)));
}

const LEDGER = "/ledger.v1.LedgerService";
const adjust = (amount: bigint) => message(AdjustBalanceRequestSchema, { userId: "wire", amount });

const REQUESTS: WireRequest[] = [
  {
    name: "load",
    path: `${LEDGER}/Load`,
    chunks: [frame(message(LoadRequestSchema, { userId: "wire", amount: 50n }))],
  },
  { name: "adjust ok", path: `${LEDGER}/AdjustBalance`, chunks: [frame(adjust(-20n))] },
  { name: "adjust overdraft", path: `${LEDGER}/AdjustBalance`, chunks: [frame(adjust(-2000n))] },
  {
    name: "invalid user",
    path: `${LEDGER}/GetBalance`,
    chunks: [frame(message(GetBalanceRequestSchema, { userId: "bad user!" }))],
  },
  {
    name: "split frames",
    path: `${LEDGER}/AdjustBalance`,
    chunks: [frame(adjust(-1n)).subarray(0, 3), frame(adjust(-1n)).subarray(3)],
  },
  {
    name: "gzip request",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-encoding": "gzip" },
    chunks: [frame(gzipSync(adjust(-1n)), true)],
  },
  {
    name: "deflate request",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-encoding": "deflate" },
    chunks: [frame(deflateSync(adjust(-1n)), true)],
  },
  {
    name: "unsupported encoding",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-encoding": "snappy" },
    chunks: [frame(adjust(-1n), true)],
  },
  {
    name: "corrupt gzip",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-encoding": "gzip" },
    chunks: [frame(Buffer.from("not gzip"), true)],
  },
  {
    name: "gzip bomb",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-encoding": "gzip" },
    chunks: [frame(gzipSync(Buffer.alloc(READ_MAX_BYTES * 4)), true)],
  },
  { name: "unknown method", path: `${LEDGER}/NoSuchMethod`, chunks: [frame(adjust(1n))] },
  { name: "unknown service", path: "/no.such.Service/Call", chunks: [frame(adjust(1n))] },
  {
    name: "json content type",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "content-type": "application/json" },
    chunks: [Buffer.from("{}")],
  },
  { name: "bad protobuf", path: `${LEDGER}/AdjustBalance`, chunks: [frame(Buffer.from([0xff, 0xff, 0xff]))] },
  { name: "over the bound", path: `${LEDGER}/AdjustBalance`, chunks: [frame(Buffer.alloc(READ_MAX_BYTES + 1))] },
  { name: "two messages", path: `${LEDGER}/AdjustBalance`, chunks: [frame(adjust(-1n)), frame(adjust(-1n))] },
  { name: "no message", path: `${LEDGER}/AdjustBalance`, chunks: [] },
  { name: "partial message", path: `${LEDGER}/AdjustBalance`, chunks: [frame(adjust(-1n)).subarray(0, 6)] },
  {
    name: "malformed timeout",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-timeout": "soon" },
    chunks: [frame(adjust(-1n))],
  },
  {
    name: "deadline passes",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-timeout": "20m" },
    chunks: [frame(adjust(-1n))],
    delayMs: 200,
  },
  {
    name: "generous deadline",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "grpc-timeout": "10S" },
    chunks: [frame(adjust(-1n))],
  },
  {
    name: "custom metadata",
    path: `${LEDGER}/AdjustBalance`,
    headers: { "x-trace": "abc", "x-bin": Buffer.from([1, 2]).toString("base64") },
    chunks: [frame(adjust(-1n))],
  },
  {
    name: "balance",
    path: `${LEDGER}/GetBalance`,
    chunks: [frame(message(GetBalanceRequestSchema, { userId: "wire" }))],
  },
  {
    name: "health watch",
    path: "/grpc.health.v1.Health/Watch",
    chunks: [frame(message(HealthCheckRequestSchema, {}))],
    cancelAfterMessages: 1,
  },
  {
    name: "reflection bidi",
    path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    chunks: [
      frame(message(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } })),
      frame(
        message(ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: Health.typeName },
        }),
      ),
    ],
  },
];

function send(session: ClientHttp2Session, request: WireRequest): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": request.path,
      "content-type": "application/grpc",
      te: "trailers",
      ...request.headers,
    });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const data: Buffer[] = [];
    let messages = 0;
    stream.on("response", (received: IncomingHttpHeaders) => (headers = withoutDate(received)));
    stream.on("trailers", (received: IncomingHttpHeaders) => (trailers = withoutDate(received)));
    stream.on("data", (chunk: Buffer) => {
      data.push(chunk);
      messages += 1;
      if (request.cancelAfterMessages !== undefined && messages >= request.cancelAfterMessages) stream.close();
    });
    stream.on("error", reject);
    // A call that never ends is an answer too, and must not hang the suite.
    const timer = setTimeout(() => {
      trailers = { hung: true, ...trailers };
      stream.close();
    }, 10_000);
    stream.on("close", () => {
      clearTimeout(timer);
      resolve({ name: request.name, headers, data: comparableData(request.path, Buffer.concat(data)), trailers });
    });
    const write = () => {
      for (const chunk of request.chunks) stream.write(chunk);
      stream.end();
    };
    if (request.delayMs === undefined) write();
    else setTimeout(write, request.delayMs);
  });
}

const SERVICES = [LedgerService, Health, ServerReflection];

/**
 * The response messages, decoded with the method's output type, timestamps left out (they
 * differ between runs); bytes that do not parse are kept as base64, so they still compare.
 */
function comparableData(path: string, data: Buffer): string {
  const [, serviceName, methodName] = path.split("/");
  const method = SERVICES.find((service) => service.typeName === serviceName)?.methods.find(
    (candidate) => candidate.name === methodName,
  );
  const messages: unknown[] = [];
  let rest = data;
  while (rest.length >= 5 && method !== undefined) {
    const length = rest.readUInt32BE(1);
    const bytes = rest.subarray(5, 5 + length);
    try {
      const json = toJson(method.output, fromBinary(method.output, bytes));
      messages.push(
        JSON.parse(
          JSON.stringify(json, (key, value: unknown) =>
            key === "createdAt" || key === "updatedAt" ? undefined : value,
          ),
        ),
      );
    } catch {
      messages.push(bytes.toString("base64"));
    }
    rest = rest.subarray(5 + length);
  }
  return JSON.stringify({ messages, rest: rest.toString("base64") });
}

function withoutDate(headers: IncomingHttpHeaders): Record<string, unknown> {
  const { date: _date, ...rest } = headers;
  return { ...rest };
}

async function transcript(engine: string): Promise<WireAnswer[]> {
  const server = await startApp({ LEDGER_GRPC_SERVER: engine, LEDGER_READ_MAX_BYTES: String(READ_MAX_BYTES) });
  const session = connect(server.baseUrl);
  try {
    const answers: WireAnswer[] = [];
    for (const request of REQUESTS) answers.push(await send(session, request));
    return answers;
  } finally {
    session.close();
    await server.stop();
  }
}

describe("our gRPC engine on node:http2 and grpc-js answer alike on the wire", () => {
  it("sends the same headers, messages and trailers for answers, errors and streams", async () => {
    const [ours = [], grpcJs = []] = await Promise.all(ENGINES.map((engine) => transcript(engine)));
    expect(ours).to.have.length(REQUESTS.length);
    expect(ours.filter((answer) => answer.trailers["hung"] === true)).to.deep.equal([]);
    for (let index = 0; index < REQUESTS.length; index += 1) {
      expect(ours[index], REQUESTS[index]?.name).to.deep.equal(grpcJs[index]);
    }
    // Worth comparing only if the transcript holds what it is meant to.
    const statusOf = (name: string) => {
      const answer = ours.find((item) => item.name === name);
      return answer?.trailers["grpc-status"] ?? answer?.headers["grpc-status"];
    };
    expect(statusOf("adjust ok")).to.equal("0");
    expect(statusOf("gzip request")).to.equal("0");
    expect(statusOf("adjust overdraft")).to.equal("9");
    expect(statusOf("unknown method")).to.equal("12");
    expect(statusOf("unsupported encoding")).to.equal("12");
    expect(statusOf("bad protobuf")).to.equal("13");
    expect(statusOf("over the bound")).to.equal("8");
    expect(statusOf("gzip bomb")).to.equal("8");
    expect(statusOf("malformed timeout")).to.equal("13");
    expect(statusOf("deadline passes")).to.equal("4");
    expect(ours.find((item) => item.name === "json content type")?.headers[":status"]).to.equal(415);
    expect(ours.find((item) => item.name === "health watch")?.data).to.include("SERVING");
    expect(ours.find((item) => item.name === "reflection bidi")?.data).to.include("ledger.v1.LedgerService");
  });

  it("refuses calls without a key the same way when auth is on", async () => {
    const answers = await Promise.all(
      ENGINES.map(async (engine) => {
        const server = await startApp({
          LEDGER_GRPC_SERVER: engine,
          LEDGER_API_KEYS: "reader read sha256:" + "0".repeat(64),
        });
        const session = connect(server.baseUrl);
        try {
          return [
            await send(session, { name: "no key", path: `${LEDGER}/AdjustBalance`, chunks: [frame(adjust(1n))] }),
            await send(session, {
              name: "wrong key",
              path: `${LEDGER}/AdjustBalance`,
              headers: { authorization: "Bearer nope" },
              chunks: [frame(adjust(1n))],
            }),
          ];
        } finally {
          session.close();
          await server.stop();
        }
      }),
    );
    expect(answers[0]).to.deep.equal(answers[1]);
    expect(answers[0]?.[0]?.headers["grpc-status"]).to.equal("16");
  });
});

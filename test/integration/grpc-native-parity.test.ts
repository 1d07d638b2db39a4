/**
 * The native gRPC paths (our engine on node:http2, and grpc-js through the adapter), connect-node's gRPC path and the REST
 * routes of the google.api.http annotations answer the same calls with the same messages and
 * the same errors: code, message, ErrorInfo reason and field violations. The same calls run
 * against a server of each kind, on fresh databases, and their transcripts must be equal.
 * Reflection and health are checked on the native path.
 */
import { connect } from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import {
  clone,
  create,
  fromJson,
  toJson,
  type DescMethodUnary,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorFromJson } from "@connectrpc/connect/protocol-connect";
import { readConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { LedgerServiceImpl } from "../../src/rpc/ledger-service.js";
import { restRoutes } from "../../src/rpc/gateway/rest-routes.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { build } from "../../src/server.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { GrpcCallError, GrpcTestClient } from "../support/grpc-client.js";

const ENGINES = ["http2", "grpc-js", "connect"] as const;
/** The engines that serve native gRPC themselves (connect-node serves every protocol). */
const NATIVE_ENGINES = ["http2", "grpc-js"] as const;
const ledger = LedgerService.method;

interface Step {
  readonly method: DescMethodUnary;
  readonly input: MessageInitShape<DescMessage>;
}

function step<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  input: MessageInitShape<I>,
): Step {
  return { method, input };
}

const STEPS: Step[] = [
  step(ledger.load, { userId: "alice", amount: 1000n, idempotencyKey: "k1" }),
  step(ledger.load, { userId: "alice", amount: 1000n, idempotencyKey: "k1" }),
  step(ledger.load, { userId: "alice", amount: 999n, idempotencyKey: "k1" }),
  step(ledger.adjustBalance, { userId: "alice", amount: -400n }),
  step(ledger.adjustBalance, { userId: "alice", amount: -4000n }),
  step(ledger.adjustBalance, { userId: "alice", amount: 0n, currency: "usd" }),
  step(ledger.authorize, { userId: "alice", amount: 700n }),
  step(ledger.authorize, { userId: "alice", amount: 100n, currency: "EUR" }),
  step(ledger.getBalance, { userId: "alice" }),
  step(ledger.getBalance, { userId: "nobody" }),
  step(ledger.getBalance, { userId: "bad user!" }),
  step(ledger.getPayouts, { pageToken: "not-a-token" }),
  step(ledger.getPayouts, {}),
  step(Health.method.check, { service: "ledger.v1.LedgerService" }),
  step(Health.method.check, { service: "no.such.Service" }),
];

/** A message with the parts that differ between runs (timestamps) left out, int64 as text. */
function comparable(message: unknown): unknown {
  return JSON.parse(
    JSON.stringify(message, (key, value: unknown) =>
      key === "createdAt" || key === "updatedAt" ? undefined : typeof value === "bigint" ? String(value) : value,
    ),
  ) as unknown;
}

/**
 * The REST transcript of the steps that have a route: each request is placed in the path, query
 * and body as its google.api.http rule says, read from the same descriptors the gateway reads.
 */
async function restTranscript(baseUrl: string, steps: readonly Step[]): Promise<unknown[]> {
  const routes = restRoutes([LedgerService]);
  const answers: unknown[] = [];
  for (const { method, input } of steps) {
    const route = routes.find((candidate) => candidate.method === method);
    if (route === undefined) continue;
    const fields = toJson(method.input, create(method.input, input)) as JsonObject;
    let path = route.template.text;
    for (const variable of route.template.variables) {
      const field = method.input.fields.find((candidate) => candidate.name === variable.fieldPath);
      const key = field?.jsonName ?? variable.fieldPath;
      path = path.replace(
        new RegExp(`\\{${variable.fieldPath}(=[^}]*)?\\}`),
        encodeURIComponent(scalarText(fields[key])),
      );
      delete fields[key];
    }
    const query =
      route.body === ""
        ? new URLSearchParams(
            Object.entries(fields).map(([key, value]): [string, string] => [key, scalarText(value)]),
          ).toString()
        : "";
    const response = await fetch(`${baseUrl}${path}${query === "" ? "" : `?${query}`}`, {
      method: route.httpMethod,
      headers: { "content-type": "application/json" },
      ...(route.body === "" ? {} : { body: JSON.stringify(fields) }),
    });
    const body = (await response.json()) as JsonValue;
    if (response.status === 200) {
      answers.push(comparable(fromJson(method.output, body)));
      continue;
    }
    const error = errorFromJson(body, undefined, new ConnectError("not an error body", Code.Unknown));
    expect(response.status, `${route.httpMethod} ${path}`).to.equal(codeToHttpStatus(error.code));
    const info = error.findDetails(ErrorInfoSchema)[0];
    const fieldViolations = (error.findDetails(BadRequestSchema)[0]?.fieldViolations ?? []).map(
      ({ field, reason }) => ({ field, reason }),
    );
    answers.push({
      code: error.code,
      details: error.rawMessage,
      reason: info?.reason,
      metadata: info?.metadata ?? {},
      fieldViolations,
    });
  }
  return answers;
}

/** A scalar field's JSON value as path or query text (the steps' requests hold only scalars). */
function scalarText(value: JsonValue | undefined): string {
  if (typeof value === "object" && value !== null) throw new Error("only scalar fields go in a path or query");
  return value === undefined || value === null ? "" : String(value);
}

/** A call's answer with the parts that differ between runs (timestamps) left out. */
async function transcript(client: GrpcTestClient, steps: readonly Step[]): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const { method, input } of steps) {
    try {
      answers.push(comparable(clone(method.output, await client.unary(method, input))));
    } catch (error) {
      if (!(error instanceof GrpcCallError)) throw error;
      const { code, reason, metadata, fieldViolations } = error;
      // connect-node percent-encodes every reserved character of grpc-message, and grpc-js's
      // client decodes only some; grpc-js's server sends the text as is. Compare the text.
      const details = decodeURIComponent(error.details);
      answers.push({ code, details, reason, metadata, fieldViolations });
    }
  }
  return answers;
}

async function withApp<T>(
  env: Record<string, string>,
  run: (server: TestApp, client: GrpcTestClient) => Promise<T>,
): Promise<T> {
  const server = await startApp(env);
  const client = new GrpcTestClient(server.address);
  try {
    return await run(server, client);
  } finally {
    client.close();
    await server.stop();
  }
}

describe("native gRPC (grpc-js) and connect-node answer alike", () => {
  it("gives the same responses and errors for the same calls", async () => {
    const [native, grpcJs, connectNode] = await Promise.all(
      ENGINES.map((engine) => withApp({ LEDGER_GRPC_SERVER: engine }, (_server, client) => transcript(client, STEPS))),
    );
    expect(native).to.have.length(STEPS.length);
    expect(native).to.deep.equal(connectNode);
    expect(grpcJs).to.deep.equal(connectNode);
    // The transcript is worth comparing only if it holds the errors it is meant to.
    const reasons = (native as { reason?: string }[]).map((answer) => answer.reason).filter(Boolean);
    expect(reasons).to.include.members([
      "IDEMPOTENCY_KEY_REUSED",
      "INSUFFICIENT_FUNDS",
      "INVALID_ARGUMENT",
      "ACCOUNT_NOT_FOUND",
    ]);
  });

  it("answers the same over the REST routes, status codes and error details included", async () => {
    const ledgerSteps = STEPS.filter((item) => item.method.parent === LedgerService);
    const [grpcAnswers, restAnswers] = await Promise.all([
      withApp({}, (_server, client) => transcript(client, ledgerSteps)),
      withApp({}, (server) => restTranscript(server.baseUrl, ledgerSteps)),
    ]);
    expect(restAnswers).to.have.length(ledgerSteps.length);
    expect(restAnswers).to.deep.equal(grpcAnswers);
    const reasons = (restAnswers as { reason?: string }[]).map((answer) => answer.reason).filter(Boolean);
    expect(reasons).to.include.members([
      "IDEMPOTENCY_KEY_REUSED",
      "INSUFFICIENT_FUNDS",
      "INVALID_ARGUMENT",
      "ACCOUNT_NOT_FOUND",
    ]);
  });

  it("masks an unexpected error as INTERNAL on both paths", async () => {
    for (const engine of ENGINES) {
      const dir = mkdtempSync(join(tmpdir(), "ledger-native-"));
      const config = readConfig({
        LEDGER_PORT: "0",
        LEDGER_DB: join(dir, "ledger.db"),
        LEDGER_LOG_LEVEL: "silent",
        LEDGER_GRPC_SERVER: engine,
      });
      const app = await build(config, createLogger(config.logLevel), {
        ledgerService: (ledgerDomain) => {
          const impl = new LedgerServiceImpl(ledgerDomain);
          impl.getBalance = () => Promise.reject(new Error("SQLITE_CORRUPT: secret driver text"));
          return impl;
        },
      });
      const { port } = await app.listen();
      const client = new GrpcTestClient(`127.0.0.1:${port}`);
      try {
        const error = await client.unary(ledger.getBalance, { userId: "alice" }).then(
          () => expect.fail("the call should fail"),
          (failure: unknown) => failure as GrpcCallError,
        );
        expect(error.code, engine).to.equal(13);
        expect(error.reason, engine).to.equal("INTERNAL");
        expect(error.details, engine).to.not.match(/secret|SQLITE/);
        const rest = await fetch(`http://127.0.0.1:${port}/v1/users/alice/balances`);
        const restText = await rest.text();
        expect(rest.status, engine).to.equal(500);
        expect(JSON.parse(restText), engine).to.include({
          code: "internal",
          message: "internal error; the incident was logged",
        });
        expect(restText, engine).to.not.match(/secret|SQLITE/);
      } finally {
        client.close();
        await app.shutdown();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("turns writes away with RESOURCE_EXHAUSTED past the write queue bound, on both paths", async () => {
    for (const engine of ENGINES) {
      await withApp({ LEDGER_GRPC_SERVER: engine, LEDGER_WRITE_QUEUE_MAX: "10" }, async (_server, client) => {
        const outcomes = await Promise.all(
          Array.from({ length: 500 }, () =>
            client.unary(ledger.load, { userId: "burst", amount: 1n }).then(
              () => "OK",
              (error: unknown) => (error instanceof GrpcCallError ? `${error.code} ${error.reason}` : String(error)),
            ),
          ),
        );
        const accepted = outcomes.filter((outcome) => outcome === "OK").length;
        expect(new Set(outcomes), engine).to.deep.equal(new Set(["OK", "8 OVERLOADED"]));
        const balance = await client.unary(ledger.getBalance, { userId: "burst" });
        expect(balance.balances[0]?.balance, engine).to.equal(BigInt(accepted));
      });
    }
  });

  it("serves reflection and health Check on the native path", async () => {
    for (const engine of NATIVE_ENGINES) {
      await withApp({ LEDGER_GRPC_SERVER: engine }, async (_server, client) => {
        const [answer] = await client.bidi(ServerReflection.method.serverReflectionInfo, [
          { messageRequest: { case: "listServices", value: "" } },
        ]);
        const names =
          answer?.messageResponse.case === "listServicesResponse"
            ? answer.messageResponse.value.service.map((entry) => entry.name)
            : [];
        expect(names).to.include.members(["ledger.v1.LedgerService", "grpc.health.v1.Health"]);
        const health = await client.unary(Health.method.check, { service: "" });
        expect(health.status).to.equal(ServingStatus.SERVING);
      });
    }
  });

  it("ends a health Watch when the server shuts down", async () => {
    for (const engine of NATIVE_ENGINES) {
      const server = await startApp({ LEDGER_GRPC_SERVER: engine });
      const client = new GrpcTestClient(server.address);
      const statuses: ServingStatus[] = [];
      const call = client.raw.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        () => Buffer.alloc(0), // An empty HealthCheckRequest: the server as a whole.
        (bytes: Buffer) => bytes,
        {},
      );
      const ended = new Promise<void>((resolve) => {
        call.on("data", (bytes: Buffer) => statuses.push(bytes.length === 0 ? 0 : (bytes[1] ?? 0)));
        call.on("error", () => resolve());
        call.on("end", () => resolve());
      });
      await new Promise((resolve) => call.once("data", resolve));
      const stopped = server.stop();
      await ended;
      client.close();
      await stopped;
      expect(statuses[0], engine).to.equal(ServingStatus.SERVING);
    }
  });

  it("sends HTTP/2 connections to grpc-js, which refuses Connect JSON there (HTTP/1.1 serves it)", async () => {
    for (const engine of ENGINES) {
      await withApp({ LEDGER_GRPC_SERVER: engine }, async (server) => {
        const session = connect(server.baseUrl);
        try {
          const status = await new Promise<number>((resolve, reject) => {
            const stream = session.request({
              ":method": "POST",
              ":path": "/grpc.health.v1.Health/Check",
              "content-type": "application/json",
            });
            stream.on("response", (headers) => resolve(Number(headers[":status"])));
            stream.on("error", reject);
            stream.end("{}");
            stream.resume();
          });
          expect(status, engine).to.equal(engine === "connect" ? 200 : 415);
        } finally {
          session.close();
        }
        const http1 = await fetch(`${server.baseUrl}/grpc.health.v1.Health/Check`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        expect(http1.status, engine).to.equal(200);
      });
    }
  });
});

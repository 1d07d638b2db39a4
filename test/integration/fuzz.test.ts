/**
 * Bad input, property-based (fast-check), over every RPC and both sides of the port: hostile
 * strings (empty, huge, non-UTF-8, control characters), zero, negative and int64-extreme amounts,
 * unknown currencies, reused keys, malformed protobuf bytes, messages over LEDGER_READ_MAX_BYTES,
 * malformed JSON, wrong content types and HTTP methods. Each answer must carry the code the
 * contract gives (test/support/contract-oracle.ts); afterwards the file must hold exactly the
 * entries that were acknowledged, verify cleanly, and the service must still serve.
 */
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { expect } from "chai";
import fc from "fast-check";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { allowedCodes, type AnyRequest, type MethodName } from "../support/contract-oracle.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger } from "../support/ledger-audit.js";

const READ_MAX_BYTES = 1024;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const METHOD_NAMES: MethodName[] = ["Load", "Authorize", "AdjustBalance", "GetBalance", "GetPayouts"];
const MUTATIONS = new Set<MethodName>(["Load", "Authorize", "AdjustBalance"]);
const methodOf = (name: MethodName) =>
  LedgerService.method[(name[0]!.toLowerCase() + name.slice(1)) as keyof typeof LedgerService.method];
/**
 * Bytes that are not a protobuf message get INTERNAL: grpc-js and connect-es both hard-code it
 * for a request they cannot deserialize (as grpc-go and grpc-java do); no handler runs.
 */
const UNDECODABLE_CODE = "INTERNAL";

type AnyUnaryMethod = DescMethodUnary<DescMessage, DescMessage>;

/** Calls any of the service's unary methods, chosen at run time, with a loosely typed request. */
function callAny(client: GrpcTestClient, method: unknown, input: object, options: { deadlineMs?: number } = {}) {
  return client.unary(method as AnyUnaryMethod, input as MessageInitShape<DescMessage>, options) as Promise<{
    replayed?: boolean;
  }>;
}

const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "u1",
    "u2",
    "u3",
    "a b",
    "\u0000",
    "é",
    "😀",
    "\uD800",
    "' OR 1=1 --",
    "%00",
    "USD",
    "usd",
    "EUR",
    "XTS",
    "ZZZ",
    "k1",
    "k2",
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  // Around the 128-character limits of user ids and keys.
  fc.string({ unit: fc.constantFrom("a", "-", "9"), minLength: 126, maxLength: 131 }),
  // Past LEDGER_READ_MAX_BYTES on its own.
  fc.string({ unit: "grapheme-ascii", minLength: 1030, maxLength: 1500 }),
);
const amount = fc.oneof(
  fc.constantFrom(0n, -1n, 1n, INT64_MAX, INT64_MIN, INT64_MIN + 1n, 2n ** 53n + 1n),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.bigInt({ min: 1n, max: 100n }),
);
const requestArbitrary: fc.Arbitrary<AnyRequest> = fc.record(
  {
    userId: fc.oneof(fc.constantFrom("u1", "u2", "u3"), hostileString),
    amount,
    currency: fc.oneof(fc.constantFrom("", "USD", "EUR", "JPY"), hostileString),
    idempotencyKey: fc.oneof(fc.constantFrom("", "k1", "k2", "k3"), hostileString),
    pageSize: fc.oneof(fc.constantFrom(0, -1, 1, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)), fc.integer()),
    pageToken: fc.oneof(fc.constant(""), hostileString),
    // Authorize's hold fields (other methods' schemas have none and ignore them). A hold placed
    // here must not expire before the audit at the end: the sweeper's release is an entry that no
    // call acknowledged. So a valid lifetime is at least an hour; invalid ones are any.
    captureMode: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: -5, max: 9 })),
    ttlSeconds: fc.oneof(
      fc.constantFrom(0n, -1n, 3600n, 2_592_000n, 2_592_001n),
      fc.bigInt({ min: 3600n, max: INT64_MAX }),
      fc.bigInt({ min: INT64_MIN, max: 0n }),
    ),
    expiresAt: fc
      .oneof(
        fc.integer({ min: 3600, max: 40 * 86_400 }),
        fc.integer({ min: -86_400, max: -1 }),
        fc.constantFrom(30 * 86_400, 30 * 86_400 + 60),
      )
      .map((ahead) => Math.floor(Date.now() / 1000) + ahead)
      .map((seconds) => ({ seconds: BigInt(seconds), nanos: 0 })),
  },
  { requiredKeys: [] },
);

/** Sends already-encoded bytes, as a broken or hostile client would. */
function sendRaw(
  client: GrpcTestClient,
  method: MethodName,
  bytes: Uint8Array,
): Promise<{ code: string; response?: Buffer }> {
  return new Promise((resolve) => {
    client.raw.makeUnaryRequest(
      `/ledger.v1.LedgerService/${method}`,
      (value: Uint8Array) => Buffer.from(value),
      (value: Buffer) => value,
      bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error, response) => resolve(error ? { code: grpc.status[error.code] } : { code: "OK", response: response! }),
    );
  });
}

function tryDecode(schema: DescMessage, bytes: Uint8Array): AnyRequest | undefined {
  try {
    return fromBinary(schema, bytes) as AnyRequest;
  } catch {
    return undefined;
  }
}

for (const grpcServer of ["http2", "grpc-js", "connect"]) {
  describe(`bad input, property-based (gRPC via ${grpcServer}, LEDGER_READ_MAX_BYTES=${READ_MAX_BYTES})`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;
    /** Mutations acknowledged as new entries: the file must hold exactly these. */
    let entriesAcknowledged = 0;
    let inputsTried = 0;

    const countAnswer = (method: MethodName, response: { replayed?: boolean } | undefined) => {
      if (MUTATIONS.has(method) && response?.replayed === false) entriesAcknowledged += 1;
    };

    before(async () => {
      server = await startApp({ LEDGER_READ_MAX_BYTES: String(READ_MAX_BYTES), LEDGER_GRPC_SERVER: grpcServer });
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
      console.log(
        `      ${grpcServer}: ${inputsTried} hostile inputs tried, ${entriesAcknowledged} entries acknowledged`,
      );
    });

    it("answers every hostile request to every RPC with a code the contract allows", async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHOD_NAMES), requestArbitrary, async (name, request) => {
          inputsTried += 1;
          const method = methodOf(name);
          const size = toBinary(method.input, create(method.input, request as never)).length;
          const allowed = size > READ_MAX_BYTES ? ["RESOURCE_EXHAUSTED"] : allowedCodes(name, request);
          let code = "OK";
          try {
            const response = await callAny(client, method, request);
            countAnswer(name, response);
          } catch (error) {
            if (!(error instanceof GrpcCallError)) throw error;
            code = grpc.status[error.code];
          }
          expect(
            allowed,
            `${name} ${JSON.stringify(request, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`,
          ).to.include(code);
        }),
        { numRuns: 600 },
      );
    });

    it(`answers undecodable protobuf bytes with ${UNDECODABLE_CODE} and decodable ones per the contract`, async () => {
      const bytesArbitrary = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // A valid message with a few bytes overwritten: gets past the first byte of the parser.
        fc
          .tuple(
            requestArbitrary,
            fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          )
          .map(([request, edits]) => {
            const bytes = toBinary(
              LedgerService.method.load.input,
              create(LedgerService.method.load.input, request as never),
            ).slice(0, 200);
            for (const [index, value] of edits) if (bytes.length > 0) bytes[index % bytes.length] = value;
            return bytes;
          }),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHOD_NAMES), bytesArbitrary, async (name, bytes) => {
          inputsTried += 1;
          const method = methodOf(name);
          const decoded = tryDecode(method.input, bytes);
          const allowed = decoded === undefined ? [UNDECODABLE_CODE] : allowedCodes(name, decoded);
          const answer = await sendRaw(client, name, bytes);
          if (answer.response !== undefined)
            countAnswer(name, fromBinary(method.output, answer.response) as { replayed?: boolean });
          expect(allowed, `${name} ${Buffer.from(bytes).toString("hex")}`).to.include(answer.code);
        }),
        {
          numRuns: 300,
          // CI's counterexample: a user id "a", then unknown fields, then ttl_seconds 97 on an
          // immediate Authorize, which the contract refuses.
          examples: [["Authorize", Buffer.from(`0a0161${"61".repeat(18)}39611001`, "hex")]],
        },
      );
    });

    it("refuses a message over LEDGER_READ_MAX_BYTES with RESOURCE_EXHAUSTED, whatever it holds", async () => {
      for (const name of METHOD_NAMES) {
        inputsTried += 1;
        const huge = "u".repeat(READ_MAX_BYTES + 1);
        const error = await callAny(client, methodOf(name), { userId: huge, amount: 1n }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, name).to.be.instanceOf(GrpcCallError);
        expect(grpc.status[(error as GrpcCallError).code], name).to.equal("RESOURCE_EXHAUSTED");
      }
    });

    it("answers the health check for any service name without failing", async () => {
      await fc.assert(
        fc.asyncProperty(hostileString, async (service) => {
          inputsTried += 1;
          const code = await client.unary(Health.method.check, { service }).then(
            () => "OK",
            (error: unknown) => grpc.status[(error as GrpcCallError).code],
          );
          const size = toBinary(Health.method.check.input, create(Health.method.check.input, { service })).length;
          const expected = size > READ_MAX_BYTES ? "RESOURCE_EXHAUSTED" : service === "" ? "OK" : "NOT_FOUND";
          expect(code, JSON.stringify(service)).to.equal(expected);
        }),
        { numRuns: 100 },
      );
    });

    it("answers malformed and hostile JSON over HTTP with a 4xx and the contract's code, never a 5xx", async () => {
      const structured = fc
        .record(
          {
            userId: fc.oneof(fc.constantFrom("u1", "u2"), hostileString),
            amount: fc.oneof(
              amount.map(String),
              fc.double().map((value) => value as unknown),
              fc.constant(null),
              hostileString,
            ),
            currency: fc.oneof(fc.constantFrom("USD", ""), hostileString),
            idempotencyKey: fc.oneof(fc.constantFrom("k1", "k9"), hostileString),
          },
          { requiredKeys: [] },
        )
        .map((body) => ({ body: JSON.stringify(body), typed: body }));
      const unstructured = fc
        .oneof(
          fc.json(),
          fc.string(),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
          fc.constantFrom("{", "[]", "null", '{"amount":1e400}', '{"userId":1}'),
        )
        .map((body) => ({ body, typed: undefined }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...METHOD_NAMES),
          fc.oneof(structured, unstructured),
          async (name, { body, typed }) => {
            inputsTried += 1;
            const response = await fetch(`${server.baseUrl}/ledger.v1.LedgerService/${name}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body,
            });
            const answer = (await response.json()) as { code?: string; replayed?: boolean };
            const context = `${name} ${String(body).slice(0, 200)} -> ${response.status} ${JSON.stringify(answer).slice(0, 200)}`;
            expect(response.status, context).to.be.below(500);
            const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
            if (length > READ_MAX_BYTES) {
              expect(answer.code, context).to.equal("resource_exhausted");
              return;
            }
            if (response.status === 200) countAnswer(name, answer);
            const code = response.status === 200 ? "OK" : String(answer.code).toUpperCase();
            const amountTyped = typed !== undefined && typeof typed.amount === "string" && /^-?\d+$/.test(typed.amount);
            if (
              amountTyped &&
              typeof typed.amount === "string" &&
              BigInt(typed.amount) <= INT64_MAX &&
              BigInt(typed.amount) >= INT64_MIN
            ) {
              const request = { ...typed, amount: BigInt(typed.amount) } as AnyRequest;
              expect(allowedCodes(name, request), context).to.include(code);
            } else {
              expect(
                ["OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION", "OUT_OF_RANGE"],
                context,
              ).to.include(code);
            }
          },
        ),
        { numRuns: 400 },
      );
    });

    it("answers wrong content types with 415 and wrong HTTP methods with 405, writing nothing", async () => {
      const url = (path: string) => `${server.baseUrl}${path}`;
      const load = "/ledger.v1.LedgerService/Load";
      const body = JSON.stringify({ userId: "u1", amount: "5" });
      const cases: [RequestInit & { path: string }, number][] = [
        [{ path: load, method: "POST", headers: { "content-type": "text/plain" }, body }, 415],
        [{ path: load, method: "POST", headers: { "content-type": "application/xml" }, body }, 415],
        [{ path: load, method: "POST", body: new Uint8Array(Buffer.from(body)) }, 415],
        [{ path: load, method: "PUT", headers: { "content-type": "application/json" }, body }, 405],
        [{ path: load, method: "PATCH", headers: { "content-type": "application/json" }, body }, 405],
        [{ path: load, method: "DELETE" }, 405],
        [{ path: `${load}?encoding=json&message=${encodeURIComponent(body)}`, method: "GET" }, 405],
        [{ path: "/healthz", method: "POST", body }, 405],
        [
          {
            path: "/ledger.v1.LedgerService/Nope",
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          },
          404,
        ],
        [{ path: "/ledger.v1.LedgerService/GetBalance?encoding=json&message=%7Bnot", method: "GET" }, 400],
      ];
      for (const [{ path, ...init }, status] of cases) {
        inputsTried += 1;
        const response = await fetch(url(path), init);
        await response.arrayBuffer();
        expect(response.status, `${init.method} ${path} ${JSON.stringify(init.headers)}`).to.equal(status);
      }
    });

    it("afterwards holds exactly the acknowledged entries, verifies, and still serves", async () => {
      const snapshot = await auditLedger(server.config.dbPath);
      expect(snapshot.report.mismatches).to.deep.equal([]);
      expect(snapshot.report.entriesChecked).to.equal(entriesAcknowledged);
      expect((await client.unary(Health.method.check, {})).status).to.equal(1);
      const canary = await client.unary(LedgerService.method.load, { userId: "canary", amount: 1n });
      expect(canary.balanceAfter).to.equal(1n);
    });
  });
}

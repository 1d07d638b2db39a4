/**
 * A lean path for the commonest HTTP/1.1 call: a unary Connect POST (JSON or binary protobuf)
 * with a body of known length, no request compression and no timeout. The profile of
 * connect-node serving it (bench/README.md) was dominated by per-call machinery the call does not
 * need: an AbortController linked to the request and to shutdown (and a DOMException when it is
 * aborted at the end of every call), Headers objects made from and for node:http, and async
 * iterables for a body that is one chunk.
 *
 * It serves the same connect `ServiceImpl` classes, with the same protobuf-es serialization
 * (connect's own `createMethodSerializationLookup`, so parse errors and size limits read the
 * same), the same interceptors in the same order, and the same error bodies, status codes and
 * response compression (connect's own `codeToHttpStatus`, `trailerMux` and
 * `compressionNegotiate`). JSON answers and error bodies are written by compiled encoders
 * (../json-encode.ts, ../error-json.ts) that give protobuf-es's and connect's bytes exactly, and
 * plain JSON requests are parsed once (../json-decode.ts). Anything else — GET, compressed or
 * chunked requests, a `connect-timeout-ms`, other content types, streaming, gRPC-Web, unknown
 * paths, HTTP/2 — is declined before a byte of the body is read, and connect-node serves it as
 * before.
 * test/integration/connect-http1-parity.test.ts proves both paths give identical answers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  limitSerialization,
  validateUniversalHandlerOptions,
  type MethodSerializationLookup,
  type Serialization,
  type UniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { errorJsonBytes } from "../error-json.js";
import { toConnectError } from "../errors.js";
import { compileFromJson } from "../json-decode.js";
import { compileToJson } from "../json-encode.js";
import { int64JsonViolations } from "../json-int64.js";
import { LazyRequest, LazyResponse, toMessage } from "../lazy-call.js";
import { LeanCallContext } from "./call-context.js";

/** The options connect-node is given; the lean path must read them the same way. */
export type LeanUnaryOptions = Partial<UniversalHandlerOptions> & {
  readonly interceptors: Interceptor[];
  readonly services: readonly { readonly service: DescService; readonly impl: object }[];
};

/** Serves the request and returns true, or returns false without touching it. */
export type LeanUnaryHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

type UnaryFn = (request: UnaryRequest) => Promise<UnaryResponse>;
type AnyFn = Parameters<Interceptor>[0];
type AnyImpl = Record<string, (message: unknown, context: LeanCallContext) => unknown>;

interface Route {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  /** The answer's JSON: connect's serializer, or the compiled one where it covers the type. */
  readonly outputJson: Serialization<Message>;
  /** The fast parse of a plain JSON request, or undefined for the full one. */
  readonly inputJson: (text: string) => Message | undefined;
  readonly invoke: UnaryFn;
}

/**
 * connect's JSON serializer for `method`'s answers with the compiled encoder (../json-encode.ts)
 * in place of protobuf-es's reflection: the same bytes, the same write limit, and a failure to
 * encode is INTERNAL as in connect.
 */
function outputJsonSerialization(
  method: DescMethod,
  settings: UniversalHandlerOptions,
  connects: Serialization<Message>,
): Serialization<Message> {
  const encode = compileToJson(method.output, settings.jsonOptions);
  if (encode === undefined) return connects;
  const serialize = (message: Message): Uint8Array<ArrayBuffer> => {
    try {
      return Buffer.from(JSON.stringify(encode(message)), "utf8");
    } catch (error) {
      throw ConnectError.from(error, Code.Internal);
    }
  };
  return limitSerialization({ parse: connects.parse, serialize }, settings);
}

export function createLeanUnaryHandler(options: LeanUnaryOptions): LeanUnaryHandler {
  // connect-node's adapter accepts gzip and brotli unless told otherwise; so does this path.
  const settings = validateUniversalHandlerOptions({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...options,
  });
  const routes = new Map<string, Route>();
  for (const { service, impl } of options.services) {
    for (const method of service.methods) {
      const methodImpl = (impl as AnyImpl)[method.localName];
      if (method.methodKind !== "unary" || methodImpl === undefined) continue;
      const last: UnaryFn = async (request) => {
        const context = (request as unknown as LazyRequest<LeanCallContext>).context;
        const answer = await methodImpl.call(impl, request.message, context);
        return new LazyResponse(context, false, toMessage(method.output, answer)) as unknown as UnaryResponse;
      };
      const serialization = createMethodSerializationLookup(
        method,
        settings.binaryOptions,
        settings.jsonOptions,
        settings,
      );
      routes.set(`/${service.typeName}/${method.name}`, {
        service,
        method,
        serialization,
        outputJson: outputJsonSerialization(method, settings, serialization.getO(false)),
        inputJson: compileFromJson(method.input),
        invoke: settings.interceptors.reduceRight<UnaryFn>(
          (next, interceptor) => interceptor(next as AnyFn) as UnaryFn,
          last,
        ),
      });
    }
  }
  return (request, response) => {
    const route =
      request.httpVersionMajor === 1 && request.method === "POST" ? routes.get(request.url ?? "") : undefined;
    if (route === undefined || !isLeanCall(request, settings)) return false;
    const binary = request.headers["content-type"] === contentTypeUnaryProto;
    readBody(request, (body) => {
      // serve() settles every call error itself; what is left is a socket that cannot be written.
      serve(route, settings, request, response, binary, body).catch(() => response.destroy());
    });
    return true;
  };
}

/**
 * A JSON request: the fast parse (../json-decode.ts) when the body is plain, else the int64 rule
 * of connect-node's path (`connect-adapter.ts`: a lenient spelling of an amount is refused, never
 * rounded or reinterpreted) and then connect's own parse.
 */
function parseJson(route: Route, body: Uint8Array): Message {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  const plain = route.inputJson(text);
  if (plain !== undefined) return plain;
  const violations = int64JsonViolations(route.method.input, text);
  if (violations.length > 0) throw toConnectError({ kind: "invalid_argument", violations });
  return route.serialization.getI(false).parse(body);
}

/** Headers the lean path serves as connect-node would; anything else goes to connect-node. */
function isLeanCall(request: IncomingMessage, settings: UniversalHandlerOptions): boolean {
  const { headers } = request;
  const contentType = headers["content-type"];
  const length = Number(headers["content-length"] ?? NaN);
  return (
    (contentType === contentTypeUnaryJson || contentType === contentTypeUnaryProto) &&
    Number.isSafeInteger(length) &&
    length <= settings.readMaxBytes &&
    headers["content-encoding"] === undefined &&
    headers["connect-timeout-ms"] === undefined &&
    (!settings.requireConnectProtocolHeader || headers["connect-protocol-version"] === "1")
  );
}

/** The whole body (its length is known and within bounds); nothing if the caller goes away. */
function readBody(request: IncomingMessage, done: (body: Uint8Array) => void): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
}

async function serve(
  route: Route,
  settings: UniversalHandlerOptions,
  request: IncomingMessage,
  response: ServerResponse,
  binary: boolean,
  body: Uint8Array,
): Promise<void> {
  const context = new LeanCallContext(route.service, route.method, request, settings.shutdownSignal);
  response.once("close", () => context.end());
  const compression = compressionNegotiate(
    settings.acceptCompression,
    null,
    request.headers["accept-encoding"] ?? null,
    "Accept-Encoding",
  );
  let status = 200;
  let contentType = binary ? contentTypeUnaryProto : contentTypeUnaryJson;
  let answer: Uint8Array;
  let errorMetadata: Headers | undefined;
  try {
    const message = binary ? route.serialization.getI(true).parse(body) : parseJson(route, body);
    const output = await route.invoke(new LazyRequest(context, false, message) as unknown as UnaryRequest);
    answer = (binary ? route.serialization.getO(true) : route.outputJson).serialize(output.message);
  } catch (thrown) {
    context.end(thrown);
    const error =
      thrown instanceof ConnectError
        ? thrown
        : new ConnectError("internal error", Code.Internal, undefined, undefined, thrown);
    status = codeToHttpStatus(error.code);
    contentType = contentTypeUnaryJson;
    errorMetadata = error.metadata;
    answer = errorJsonBytes(error, settings.jsonOptions ?? {});
  } finally {
    context.end();
  }
  let contentEncoding: string | undefined;
  if (compression.response !== null && answer.byteLength >= settings.compressMinBytes) {
    answer = await compression.response.compress(answer);
    contentEncoding = compression.response.name;
  }
  response.writeHead(status, responseHeaders(context, contentType, contentEncoding, errorMetadata, answer.byteLength));
  response.end(answer);
}

/**
 * The headers connect-node sends: content-type, what the handler or interceptors set, an error's
 * metadata, trailers as `trailer-` headers, content-encoding and content-length. With nothing set
 * by the handler, no Headers object is made.
 */
function responseHeaders(
  context: LeanCallContext,
  contentType: string,
  contentEncoding: string | undefined,
  errorMetadata: Headers | undefined,
  length: number,
): Record<string, string> {
  const { header, trailer } = context.touchedResponseHeaders;
  const metadataSet = errorMetadata !== undefined && [...errorMetadata.keys()].length > 0;
  if (header === undefined && trailer === undefined && !metadataSet) {
    const plain: Record<string, string> = { "content-length": String(length), "content-type": contentType };
    if (contentEncoding !== undefined) plain["content-encoding"] = contentEncoding;
    return plain;
  }
  const merged = new Headers(header);
  merged.set("content-type", contentType);
  errorMetadata?.forEach((value, key) => merged.set(key, value));
  if (contentEncoding !== undefined) merged.set("content-encoding", contentEncoding);
  const all = trailerMux(merged, trailer ?? new Headers());
  all.set("content-length", String(length));
  const plain: Record<string, string> = {};
  all.forEach((value, key) => {
    plain[key] = value;
  });
  return plain;
}

/**
 * connect-node's request handler, with the JSON int64 rule (`json-int64.ts`) applied to every
 * request body that carries JSON before protobuf-es parses it: Connect unary JSON
 * (`application/json`, compressed or not) and enveloped JSON (`application/grpc-web+json`,
 * `application/grpc+json`, `application/connect+json`). It is connect-node's own
 * `connectNodeAdapter` (a router, a path lookup, a universal request) with the body wrapped; a
 * violation is thrown from the body, so each protocol answers INVALID_ARGUMENT in its own way.
 * Connect GET carries no int64 here: only GetBalance, GetPayouts and ListEntries allow it, and none has one.
 */
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import type { DescMessage } from "@bufbuild/protobuf";
import { createConnectRouter } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
  type ConnectNodeAdapterOptions,
} from "@connectrpc/connect-node";
import { toConnectError } from "./errors.js";
import { int64JsonViolations } from "./json-int64.js";

type NodeHandler = (
  request: Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[0],
  response: Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>[1],
) => void;

export function connectAdapterWithJsonRules(
  options: ConnectNodeAdapterOptions & { readonly readMaxBytes: number },
): NodeHandler {
  const router = createConnectRouter({
    ...options,
    acceptCompression: options.acceptCompression ?? [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (request, response) => {
    const handler = paths.get(request.url?.split("?", 2)[0] ?? "");
    if (handler === undefined) {
      options.fallback?.(request, response);
      return;
    }
    const universal = universalRequestFromNodeRequest(request, response, undefined, undefined);
    const format = jsonFormat(universal.header);
    const body =
      format !== undefined && isAsyncIterable(universal.body)
        ? checkedBody(universal.body, handler.method.input, format, universal.header, options.readMaxBytes)
        : universal.body;
    // As in connect-node's adapter: a failure here is a broken connection, already answered
    // or no longer answerable; the call's own outcome was logged by the interceptors.
    handler({ ...universal, body })
      .then((result) => universalResponseToNodeResponse(result, response))
      .catch(() => undefined);
  };
}

type JsonFormat = "unary" | "enveloped";

function jsonFormat(header: Headers): JsonFormat | undefined {
  const contentType = (header.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (contentType === "application/json") return "unary";
  if (
    contentType === "application/grpc-web+json" ||
    contentType === "application/grpc+json" ||
    contentType === "application/connect+json"
  ) {
    return "enveloped";
  }
  return undefined;
}

function isAsyncIterable(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/**
 * Buffers the body up to `readMaxBytes`, checks its JSON, and yields the same bytes on. A larger
 * body is passed through unchecked: connect-node refuses it for its size.
 */
async function* checkedBody(
  body: AsyncIterable<Uint8Array>,
  schema: DescMessage,
  format: JsonFormat,
  header: Headers,
  readMaxBytes: number,
): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    chunks.push(next.value);
    size += next.value.byteLength;
    if (size > readMaxBytes) {
      yield* chunks;
      for (let rest = await iterator.next(); rest.done !== true; rest = await iterator.next()) yield rest.value;
      return;
    }
  }
  const bytes = Buffer.concat(chunks);
  const texts =
    format === "unary"
      ? [decompress(bytes, header.get("content-encoding"), readMaxBytes)]
      : envelopes(bytes, header.get("grpc-encoding") ?? header.get("connect-content-encoding"), readMaxBytes);
  for (const text of texts) {
    if (text === undefined) continue;
    const violations = int64JsonViolations(schema, text);
    if (violations.length > 0) throw toConnectError({ kind: "invalid_argument", violations });
  }
  yield bytes;
}

function decompress(bytes: Buffer, encoding: string | null, readMaxBytes: number): string | undefined {
  try {
    if (encoding === null || encoding === "" || encoding === "identity") return bytes.toString("utf8");
    if (encoding === "gzip") return gunzipSync(bytes, { maxOutputLength: readMaxBytes }).toString("utf8");
    if (encoding === "br") return brotliDecompressSync(bytes, { maxOutputLength: readMaxBytes }).toString("utf8");
  } catch {
    // Corrupt or oversized: connect-node refuses it with its own error.
  }
  return undefined;
}

/** The JSON of each message envelope (1 flag byte, 4 length bytes, the message); end-stream frames skipped. */
function envelopes(bytes: Buffer, encoding: string | null, readMaxBytes: number): (string | undefined)[] {
  const texts: (string | undefined)[] = [];
  for (let offset = 0; offset + 5 <= bytes.length;) {
    const flags = bytes[offset] ?? 0;
    const length = bytes.readUInt32BE(offset + 1);
    const message = bytes.subarray(offset + 5, offset + 5 + length);
    offset += 5 + length;
    if ((flags & 0x80) !== 0 || (flags & 0x02) !== 0) continue;
    texts.push((flags & 0x01) !== 0 ? decompress(message, encoding, readMaxBytes) : message.toString("utf8"));
  }
  return texts;
}

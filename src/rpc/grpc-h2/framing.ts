/**
 * The gRPC wire format over HTTP/2 (the "gRPC over HTTP2" spec): each message is a 5-byte prefix
 * (a compressed flag, then the length as a big-endian uint32) and the message bytes; a call's
 * deadline comes in `grpc-timeout`; its status goes in trailers. Every limit and error text here
 * is the one @grpc/grpc-js uses, so that a caller sees the same answers from both engines
 * (test/integration/grpc-native-parity.test.ts compares them).
 */
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";

const PREFIX_BYTES = 5;

/** A failure of the transport itself, answered as a gRPC status before any handler runs. */
export class WireError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
  }
}

/** gRPC status codes used by the transport (the numbers are the spec's). */
export const WIRE_CODE = {
  internal: 13,
  unimplemented: 12,
  resourceExhausted: 8,
  deadlineExceeded: 4,
} as const;

/** One message as it came off the wire: still compressed when `compressed` is set. */
export interface RawMessage {
  readonly compressed: boolean;
  readonly bytes: Buffer;
}

/**
 * Cuts a stream of DATA chunks into messages. A message larger than `readMaxBytes` fails as soon
 * as its prefix is read, before its bytes are held, so a caller cannot make us buffer more than
 * one bounded message.
 */
export class MessageDecoder {
  private pending: Buffer | undefined;

  constructor(private readonly readMaxBytes: number) {}

  /** The messages completed by `chunk`; throws a WireError past the size bound. */
  push(chunk: Buffer): RawMessage[] {
    let data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const messages: RawMessage[] = [];
    while (data.length >= PREFIX_BYTES) {
      const length = data.readUInt32BE(1);
      if (length > this.readMaxBytes) {
        throw new WireError(
          WIRE_CODE.resourceExhausted,
          `Received message larger than max (${length} vs ${this.readMaxBytes})`,
        );
      }
      if (data.length < PREFIX_BYTES + length) break;
      messages.push({ compressed: data[0] === 1, bytes: data.subarray(PREFIX_BYTES, PREFIX_BYTES + length) });
      data = data.subarray(PREFIX_BYTES + length);
    }
    if (data.length > 0) this.pending = data;
    return messages;
  }

  /** True when a message was started but not finished: the request ended part-way through it. */
  get hasPartialMessage(): boolean {
    return this.pending !== undefined;
  }
}

/** The 5-byte prefix and the message, in one buffer (one DATA frame write). */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.byteLength);
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, PREFIX_BYTES);
  return framed;
}

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/**
 * The bytes of a compressed message, inflated under the same bound as an uncompressed one. The
 * encodings are those grpc-js accepts (`identity,deflate,gzip`); a compressed flag with the
 * `identity` encoding is taken as is, as grpc-js does.
 */
export async function decompress(encoding: string, bytes: Buffer, readMaxBytes: number): Promise<Buffer> {
  if (encoding === "identity") return bytes;
  if (encoding !== "gzip" && encoding !== "deflate") {
    throw new WireError(WIRE_CODE.unimplemented, `Received message compressed with unsupported encoding "${encoding}"`);
  }
  let inflated: Buffer;
  try {
    // maxOutputLength stops zlib as soon as the bound is passed: a small bomb cannot fill memory.
    const options = { maxOutputLength: readMaxBytes + 1 };
    inflated = encoding === "gzip" ? await gunzipAsync(bytes, options) : await inflateAsync(bytes, options);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") throw tooLargeInflated(readMaxBytes);
    throw new WireError(WIRE_CODE.internal, "Failed to decompress message");
  }
  if (inflated.length > readMaxBytes) throw tooLargeInflated(readMaxBytes);
  return inflated;
}

function tooLargeInflated(readMaxBytes: number): WireError {
  return new WireError(
    WIRE_CODE.resourceExhausted,
    `Received message that decompresses to a size larger than ${readMaxBytes}`,
  );
}

const TIMEOUT_PATTERN = /(\d{1,8})\s*([HMSmun])/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * `grpc-timeout` in milliseconds (`100m`, `5S`), truncated to an integer as grpc-js does; a value
 * that does not parse is the caller's error, answered INTERNAL as grpc-js answers it.
 */
export function parseTimeoutMs(header: string): number {
  const match = TIMEOUT_PATTERN.exec(header);
  if (match === null) throw new WireError(WIRE_CODE.internal, `Invalid grpc-timeout value "${header}"`);
  return (Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] ?? ""] ?? 0)) | 0;
}

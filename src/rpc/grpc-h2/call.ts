/**
 * One gRPC call on one HTTP/2 stream: read the request messages, run the interceptor chain and
 * the connect implementation, write the answer and the status. Generic over methods: any method
 * of a registered service, of any kind, takes this path unchanged.
 *
 * What a caller sees mirrors @grpc/grpc-js's server, header for header and text for text
 * (test/integration/grpc-native-parity.test.ts): the response headers, a status in trailers (or
 * a trailers-only response when nothing was sent), `grpc-message` percent-encoded, the handler
 * started at half-close for unary and server-streaming calls and at once for the others.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { LazyRequest } from "../lazy-call.js";
import type { AnyFn } from "../native-grpc/adapter.js";
import { toGrpcStatus } from "../native-grpc/status.js";
import { H2CallContext } from "./call-context.js";
import { decompress, frameMessage, MessageDecoder, parseTimeoutMs, WIRE_CODE, type WireError } from "./framing.js";
import { RequestQueue } from "./request-queue.js";

/** A registered method: what a call needs, resolved once at start-up. */
export interface MethodEntry {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly invoke: AnyFn;
  /** Client-streaming and bidi methods read a stream of requests. */
  readonly requestStream: boolean;
  /** Server-streaming and bidi methods write a stream of answers. */
  readonly responseStream: boolean;
}

export interface CallLimits {
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number;
  readonly shutdownSignal: AbortSignal | undefined;
}

// grpc-js sends these on every answer; `date` is added by node:http2 on both engines.
const RESPONSE_HEADERS: OutgoingHttpHeaders = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
};
const OK_TRAILERS: OutgoingHttpHeaders = { "grpc-status": "0", "grpc-message": "OK" };
const DEADLINE_EXCEEDED: Status = { code: WIRE_CODE.deadlineExceeded, details: "Deadline exceeded" };

interface Status {
  readonly code: number;
  readonly details: string;
  readonly metadata?: OutgoingHttpHeaders;
}

export class H2Call {
  private readonly context: H2CallContext;
  private readonly decoder: MessageDecoder;
  private readonly encoding: string;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  /** The one request of a unary or server-streaming call, once read. */
  private request: unknown;
  private requestCount = 0;
  private readonly requests: RequestQueue | undefined;
  /** Set while a compressed message inflates: later messages wait behind it, in order. */
  private decoding: Promise<void> | undefined;

  constructor(
    private readonly entry: MethodEntry,
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly limits: CallLimits,
  ) {
    this.decoder = new MessageDecoder(limits.readMaxBytes);
    const encoding = headers["grpc-encoding"];
    this.encoding = typeof encoding === "string" ? encoding : "identity";
    const timeoutHeader = headers["grpc-timeout"];
    let timeoutMs: number | undefined;
    let malformedTimeout: WireError | undefined;
    try {
      timeoutMs = timeoutHeader === undefined ? undefined : parseTimeoutMs(String(timeoutHeader));
    } catch (error) {
      malformedTimeout = error as WireError;
    }
    const deadlineMs = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    this.context = new H2CallContext(entry.service, entry.method, headers, deadlineMs, limits.shutdownSignal);
    this.requests = entry.requestStream ? new RequestQueue(stream) : undefined;
    stream.once("close", () => this.onClose());
    if (malformedTimeout !== undefined) {
      this.sendStatus(malformedTimeout);
      stream.resume();
      return;
    }
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.sendStatus(DEADLINE_EXCEEDED), timeoutMs);
    }
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.once("end", () => this.onEnd());
    if (this.requests !== undefined) this.run(this.requests);
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let messages;
    try {
      messages = this.decoder.push(chunk);
    } catch (error) {
      this.sendStatus(error as WireError);
      return;
    }
    for (const raw of messages) {
      if (!raw.compressed && this.decoding === undefined) this.accept(raw.bytes);
      else this.decoding = (this.decoding ?? Promise.resolve()).then(() => this.inflateAndAccept(raw.bytes));
    }
  }

  private async inflateAndAccept(bytes: Buffer): Promise<void> {
    if (this.finished) return;
    try {
      this.accept(await decompress(this.encoding, bytes, this.limits.readMaxBytes));
    } catch (error) {
      this.sendStatus(error as WireError);
    }
  }

  /** One decoded request message. */
  private accept(bytes: Buffer): void {
    if (this.finished) return;
    let message: unknown;
    try {
      message = fromBinary(this.entry.method.input, bytes);
    } catch {
      this.sendStatus({ code: WIRE_CODE.internal, details: "Error deserializing request" });
      return;
    }
    if (this.requests !== undefined) {
      this.requests.push(message);
      return;
    }
    this.requestCount += 1;
    if (this.requestCount > 1) {
      this.sendStatus({
        code: WIRE_CODE.unimplemented,
        details: `Received a second request message for server streaming method ${this.context.url}`,
      });
      return;
    }
    this.request = message;
  }

  private onEnd(): void {
    const halfClose = () => {
      if (this.finished) return;
      if (this.requests !== undefined) {
        this.requests.end();
        return;
      }
      if (this.requestCount === 0) {
        this.sendStatus({
          code: WIRE_CODE.unimplemented,
          details: `Received no request message for server streaming method ${this.context.url}`,
        });
        return;
      }
      this.run(this.request);
    };
    if (this.decoding === undefined) halfClose();
    else void this.decoding.then(halfClose);
  }

  private run(message: unknown): void {
    const request = new LazyRequest(this.context, this.entry.requestStream, message);
    this.entry.invoke(request as unknown as UnaryRequest | StreamRequest).then(
      (response) => (this.entry.responseStream ? this.sendStream(response as StreamResponse) : this.sendOne(response)),
      (error: unknown) => this.sendError(error),
    );
  }

  private sendOne(response: UnaryResponse | StreamResponse): void {
    if (this.finished || this.stream.destroyed) return;
    const framed = frameMessage(toBinary(this.entry.method.output, response.message as never));
    if (framed.length - 5 > this.limits.writeMaxBytes) {
      this.sendStatus(tooLargeToSend(framed.length, this.limits.writeMaxBytes));
      return;
    }
    this.finish();
    this.respondHeaders();
    const trailers = this.trailersWith(OK_TRAILERS);
    this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
    this.stream.end(framed);
  }

  private async sendStream(response: StreamResponse): Promise<void> {
    try {
      if (this.context.touchedResponseHeaders.header !== undefined) this.respondHeaders();
      for await (const answer of response.message as AsyncIterable<unknown>) {
        // Ended by shutdown or by the caller: the status below closes the stream (if still open).
        if (this.context.signal.aborted || this.finished || this.stream.destroyed) break;
        const framed = frameMessage(toBinary(this.entry.method.output, answer as never));
        if (framed.length - 5 > this.limits.writeMaxBytes) {
          this.sendStatus(tooLargeToSend(framed.length, this.limits.writeMaxBytes));
          return;
        }
        if (!this.stream.headersSent) this.respondHeaders();
        if (!this.stream.write(framed)) await this.drained();
      }
    } catch (error) {
      this.sendError(error);
      return;
    }
    this.sendStatus({ code: 0, details: "OK", metadata: this.trailersWith({}) });
  }

  /** Waits for the stream to take more (HTTP/2 flow control), or to close. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
    });
  }

  private sendError(error: unknown): void {
    const status = toGrpcStatus(error);
    this.sendStatus({ code: status.code, details: status.details, metadata: status.metadata.toHttp2Headers() });
  }

  /** Ends the call with `status`: in trailers after sent headers, otherwise trailers-only. */
  private sendStatus(status: Status): void {
    if (this.finished) return;
    this.finish();
    if (this.stream.destroyed || this.stream.closed) return;
    const trailers = {
      "grpc-status": String(status.code),
      "grpc-message": encodeURI(status.details),
      ...status.metadata,
    };
    if (this.stream.headersSent) {
      this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
      this.stream.end();
      return;
    }
    this.stream.respond({ ...trailers, ...RESPONSE_HEADERS_ONLY }, { endStream: true });
  }

  private respondHeaders(): void {
    const custom = this.context.touchedResponseHeaders.header;
    this.stream.respond(custom === undefined ? RESPONSE_HEADERS : { ...RESPONSE_HEADERS, ...toHttp2Headers(custom) }, {
      waitForTrailers: true,
    });
  }

  private trailersWith(status: OutgoingHttpHeaders): OutgoingHttpHeaders {
    const trailer = this.context.touchedResponseHeaders.trailer;
    return trailer === undefined ? status : { ...status, ...toHttp2Headers(trailer) };
  }

  /** The call is over for us: no more reading, no deadline, and the handler's signal aborts. */
  private finish(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.context.end();
    this.requests?.end();
  }

  private onClose(): void {
    // Closed before we sent a status: the caller cancelled (or the connection went away).
    this.finished = true;
    clearTimeout(this.timer);
    this.context.end();
    this.requests?.end();
  }
}

// A trailers-only response carries these two of the response headers, as grpc-js's does.
const RESPONSE_HEADERS_ONLY: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc+proto" };

function tooLargeToSend(framedBytes: number, writeMaxBytes: number): Status {
  return {
    code: WIRE_CODE.resourceExhausted,
    details: `Sent message larger than max (${framedBytes} vs. ${writeMaxBytes})`,
  };
}

/** Headers or trailers set by a handler, as grpc-js's Metadata would put them on the wire. */
function toHttp2Headers(headers: Headers): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
    result[key] = key.endsWith("-bin") ? Buffer.from(value, "base64").toString("base64") : value;
  });
  return result;
}

/**
 * Serves connect `ServiceImpl` classes through @grpc/grpc-js, with the same protobuf-es schemas
 * and the same connect interceptors, so native gRPC callers get grpc-js's speed (about five
 * times connect-node's on a trivial handler here; bench/README.md has the figures) without a
 * second implementation of any service, rule or error.
 *
 * Each call is shaped as the connect request an interceptor expects and passed through the
 * interceptors in the order connect-node applies them (the first one is outermost). As in
 * connect-node, a streaming call's interceptors see it start, not end.
 */
import type { EventEmitter } from "node:events";
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { LazyRequest, LazyResponse, toMessage, type LazyCallContext } from "../lazy-call.js";
import { NativeCallContext } from "./call-context.js";
import { toGrpcStatus } from "./status.js";

export interface AdapterOptions {
  readonly interceptors: readonly Interceptor[];
  /** Ends long-lived streams when the server shuts down. */
  readonly shutdownSignal?: AbortSignal;
}

/** The methods of a connect service implementation, called by name. */
export type AnyImpl = Record<string, (request: unknown, context: LazyCallContext) => unknown>;
export type AnyFn = (request: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;
type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerReadableStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>;

const HANDLER_TYPES = {
  unary: "unary",
  server_streaming: "serverStream",
  client_streaming: "clientStream",
  bidi_streaming: "bidi",
} as const;

/** Registers every method of `service` on `server`, answered by `impl`. */
export function addService(server: grpc.Server, service: DescService, impl: object, options: AdapterOptions): void {
  for (const method of service.methods) {
    const methodImpl = (impl as AnyImpl)[method.localName];
    if (methodImpl === undefined) continue; // grpc-js answers UNIMPLEMENTED for unregistered paths.
    const invoke = chain(options.interceptors, (request) => callImpl(methodImpl.bind(impl), request));
    const handler =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? respondOnce(service, method, invoke, options)
        : respondWithStream(service, method, invoke, options);
    server.register(
      `/${service.typeName}/${method.name}`,
      handler as grpc.UntypedHandleCall,
      serializer(method.output),
      deserializer(method.input),
      HANDLER_TYPES[method.methodKind],
    );
  }
}

/** The interceptors around `last`, the first one outermost, as connect-node applies them. */
export function chain(interceptors: readonly Interceptor[], last: AnyFn): AnyFn {
  return interceptors.reduceRight<AnyFn>((next, interceptor) => interceptor(next), last);
}

/** Calls the connect implementation and shapes its answer as a connect response. */
export async function callImpl(
  methodImpl: (request: unknown, context: LazyCallContext) => unknown,
  request: UnaryRequest | StreamRequest,
): Promise<UnaryResponse | StreamResponse> {
  const context = (request as unknown as LazyRequest).context;
  const { method } = context;
  if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
    const answer = await methodImpl(request.message, context);
    return new LazyResponse(context, false, toMessage(method.output, answer)) as unknown as UnaryResponse;
  }
  const answers = methodImpl(request.message, context) as AsyncIterable<unknown>;
  return new LazyResponse(context, true, mapMessages(method.output, answers)) as unknown as StreamResponse;
}

/** Unary and client-streaming methods: one answer through the callback. */
function respondOnce(service: DescService, method: DescMethod, invoke: AnyFn, options: AdapterOptions) {
  return (
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => {
    const context = startContext(service, method, call, options.shutdownSignal);
    const message =
      method.methodKind === "unary"
        ? (call as grpc.ServerUnaryCall<unknown, unknown>).request
        : requestsOf(call as grpc.ServerDuplexStream<unknown, unknown>);
    invoke(asConnectRequest(new LazyRequest(context, method.methodKind !== "unary", message))).then(
      (response) => {
        context.end();
        const header = context.takeResponseHeader();
        if (header !== undefined) call.sendMetadata(header);
        callback(null, response.message, context.takeResponseTrailer());
      },
      (error: unknown) => {
        context.end();
        callback(toGrpcStatus(error));
      },
    );
  };
}

/**
 * Waits until the call takes more (`drain`) or ends (cancelled by the caller, past its deadline,
 * shutdown). Without the second, a cancelled call blocked on a consumer that stopped reading would
 * keep its handler (and what it holds) until the connection closed.
 */
function drainedOrEnded(call: EventEmitter, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Server-streaming and bidi methods: answers written as they come, honouring back-pressure. */
function respondWithStream(service: DescService, method: DescMethod, invoke: AnyFn, options: AdapterOptions) {
  return (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
    const context = startContext(service, method, call, options.shutdownSignal);
    const message =
      method.methodKind === "server_streaming"
        ? (call as grpc.ServerWritableStream<unknown, unknown>).request
        : requestsOf(call as grpc.ServerDuplexStream<unknown, unknown>);
    const run = async () => {
      const response = await invoke(
        asConnectRequest(new LazyRequest(context, method.methodKind !== "server_streaming", message)),
      );
      const header = context.takeResponseHeader();
      if (header !== undefined) call.sendMetadata(header);
      for await (const answer of response.message as AsyncIterable<unknown>) {
        if (context.signal.aborted) return;
        if (!call.write(answer)) await drainedOrEnded(call, context.signal);
      }
    };
    run().then(
      () => {
        context.end();
        call.end(context.takeResponseTrailer());
      },
      (error: unknown) => {
        context.end();
        call.emit("error", toGrpcStatus(error));
      },
    );
  };
}

function startContext(
  service: DescService,
  method: DescMethod,
  call: AnyCall,
  shutdownSignal: AbortSignal | undefined,
): NativeCallContext {
  const deadline = call.getDeadline();
  const context = new NativeCallContext({
    service,
    method,
    metadata: call.metadata,
    deadlineMs: deadline instanceof Date ? deadline.getTime() : deadline,
    shutdownSignal,
  });
  (call as grpc.ServerUnaryCall<unknown, unknown>).once("cancelled", () => context.end());
  return context;
}

/**
 * The requests of a streaming call. A plain `for await` over the call would destroy it when the
 * requests end, before the answers are written; this iterator leaves it open.
 */
function requestsOf(call: grpc.ServerDuplexStream<unknown, unknown>): AsyncIterable<unknown> {
  return { [Symbol.asyncIterator]: () => call.iterator({ destroyOnReturn: false }) };
}

/** The request's `stream` flag follows the method's kind, which the types cannot see. */
function asConnectRequest(request: LazyRequest<NativeCallContext>): UnaryRequest | StreamRequest {
  return request as unknown as UnaryRequest | StreamRequest;
}

async function* mapMessages(schema: DescMessage, answers: AsyncIterable<unknown>): AsyncIterable<unknown> {
  for await (const answer of answers) yield toMessage(schema, answer);
}

function serializer(schema: DescMessage) {
  return (message: unknown): Buffer => {
    const bytes = toBinary(schema, message as never);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage) {
  return (bytes: Buffer): unknown => fromBinary(schema, bytes);
}

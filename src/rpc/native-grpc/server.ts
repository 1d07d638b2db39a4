/**
 * The native gRPC server: grpc-js with our services registered through the adapter. It binds no
 * port of its own; the listener hands it the HTTP/2 connections it accepts on the shared port.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { Server, ServerCredentials, type ConnectionInjector } from "@grpc/grpc-js";
import { addService } from "./adapter.js";

export interface NativeGrpcOptions {
  readonly services: readonly { readonly service: DescService; readonly impl: object }[];
  /** The same interceptors connect-node runs, in the same order (the first one outermost). */
  readonly interceptors: readonly Interceptor[];
  /** The largest request message accepted, in bytes; larger ones fail RESOURCE_EXHAUSTED. */
  readonly readMaxBytes: number;
  /** The largest response message sent, in bytes; larger ones fail RESOURCE_EXHAUSTED. */
  readonly writeMaxBytes: number;
  /** Most calls in flight on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly streamsPerConnectionMax: number;
  /** A connection with no call in flight for this long gets GOAWAY, in milliseconds. */
  readonly idleTimeoutMs: number;
  /** Ends long-lived streams (health Watch, reflection) when the server shuts down. */
  readonly shutdownSignal: AbortSignal;
}

export interface NativeGrpcServer {
  readonly server: Server;
  /** Takes connections whose first bytes were the HTTP/2 preface. */
  readonly injector: ConnectionInjector;
}

export function createNativeGrpcServer(options: NativeGrpcOptions): NativeGrpcServer {
  const server = new Server({
    "grpc.max_receive_message_length": options.readMaxBytes,
    "grpc.max_send_message_length": options.writeMaxBytes,
    "grpc.max_concurrent_streams": options.streamsPerConnectionMax,
    "grpc.max_connection_idle_ms": options.idleTimeoutMs,
  });
  for (const { service, impl } of options.services) {
    addService(server, service, impl, { interceptors: options.interceptors, shutdownSignal: options.shutdownSignal });
  }
  return { server, injector: server.createConnectionInjector(ServerCredentials.createInsecure()) };
}

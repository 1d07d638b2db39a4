/**
 * Native gRPC served on `node:http2` directly, with our own gRPC framing (./framing.ts, ./call.ts):
 * the default engine for cleartext HTTP/2 (`LEDGER_GRPC_SERVER=http2`).
 *
 * Why not grpc-js: the profiles of a trivial handler on our stack (bench/README.md) spent more
 * time in grpc-js's per-call machinery (an intercepting call object, a Metadata object built
 * from the headers and back, its stream decoder, channelz counters, several listeners per call)
 * than in our own code. This engine does per call what the gRPC spec asks and nothing more, with
 * the same connect `ServiceImpl` classes, protobuf-es schemas and interceptors as the other two
 * engines; `LEDGER_GRPC_SERVER=grpc-js` and `=connect` still select them.
 *
 * It binds no port of its own: the listener hands it the HTTP/2 connections it accepts on the
 * shared port.
 */
import { createServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { guardHttp2Session } from "../http2-deadlines.js";
import type { Http2ConnectionSink } from "../listener.js";
import { callImpl, chain, type AnyImpl } from "../native-grpc/adapter.js";
import type { NativeGrpcOptions } from "../native-grpc/server.js";
import { H2Call, type CallLimits, type MethodEntry } from "./call.js";

/** The same options as the grpc-js engine's: the engines are interchangeable behind one setting. */
export type H2GrpcOptions = NativeGrpcOptions;

/** Every method of every service, by its HTTP/2 path (`/ledger.v1.LedgerService/Load`). */
function methodTable(options: H2GrpcOptions): Map<string, MethodEntry> {
  const methods = new Map<string, MethodEntry>();
  for (const { service, impl } of options.services) {
    for (const method of service.methods) {
      const methodImpl = (impl as AnyImpl)[method.localName];
      if (methodImpl === undefined) continue; // Answered UNIMPLEMENTED, as an unknown path.
      methods.set(`/${service.typeName}/${method.name}`, {
        service,
        method,
        invoke: chain(options.interceptors, (request) => callImpl(methodImpl.bind(impl), request)),
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      });
    }
  }
  return methods;
}

export function createH2GrpcServer(options: H2GrpcOptions): Http2ConnectionSink {
  const methods = methodTable(options);
  const limits: CallLimits = {
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: options.writeMaxBytes,
    shutdownSignal: options.shutdownSignal,
  };
  const sessions = new Set<Http2Session>();
  const server = createServer({
    settings: { maxConcurrentStreams: options.streamsPerConnectionMax },
    // As grpc-js does: Node's default session memory bound (10 MB) refuses streams with
    // ENHANCE_YOUR_CALM under a burst of calls; the stream bound above is the real limit.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A session error ends the session; its streams see "close" and their calls end.
    session.on("error", () => undefined);
    guardHttp2Session(session, options.idleTimeoutMs, () => undefined);
  });
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    serveStream(methods, limits, stream, headers);
  });
  return {
    injectConnection: (connection: Socket) => server.emit("connection", connection),
    // GOAWAY: calls in flight finish, new ones go elsewhere; the caller enforces the grace.
    drain: () => {
      for (const session of sessions) session.close();
    },
    destroy: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

function serveStream(
  methods: Map<string, MethodEntry>,
  limits: CallLimits,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): void {
  // A reset or broken stream reports here; its "close" ends the call.
  stream.on("error", () => undefined);
  const contentType = headers["content-type"];
  if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
    // Connect and gRPC-Web over cleartext HTTP/2 are connect-node's (LEDGER_GRPC_SERVER=connect).
    stream.respond({ ":status": 415 }, { endStream: true });
    return;
  }
  const path = headers[":path"] ?? "";
  const entry = methods.get(path);
  if (entry === undefined) {
    stream.respond(
      {
        "grpc-status": "12",
        "grpc-message": `The server does not implement the method ${path}`,
        ":status": 200,
        "content-type": "application/grpc+proto",
      },
      { endStream: true },
    );
    stream.resume();
    return;
  }
  new H2Call(entry, stream, headers, limits);
}

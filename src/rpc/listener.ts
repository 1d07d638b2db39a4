/**
 * One port for every caller. Native gRPC clients (grpc-go, ghz, grpcurl -plaintext) open
 * cleartext HTTP/2 with prior knowledge; curl, browsers' proxies and Connect JSON callers speak
 * HTTP/1.1. A cleartext Node HTTP/2 server cannot fall back to HTTP/1.1 by itself, so the first
 * bytes of each connection decide: the HTTP/2 connection preface starts with "PRI ", which no
 * HTTP/1.1 method does.
 */
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2Server,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { classifyFirstBytes } from "./first-bytes.js";
import { guardHttp2Session, guardHttp2Stream } from "./http2-deadlines.js";
import type { StallKind } from "./stalled-connections.js";

export type Handler = (
  request: Parameters<RequestListener>[0] | Http2ServerRequest,
  response: Parameters<RequestListener>[1] | Http2ServerResponse,
) => void;

/**
 * Deadlines for every connection, whatever it speaks: a client that stops part-way through a
 * request must not hold a connection (and a file descriptor) for ever. Before authentication,
 * anyone who reaches the port could otherwise exhaust LEDGER_CONNECTIONS_MAX with a few bytes.
 */
export interface ConnectionDeadlines {
  /**
   * From accept (after the TLS handshake, which has the same bound) to the first bytes that tell
   * the protocol, the HTTP/2 preface with its SETTINGS, or complete HTTP/1.1 request headers.
   */
  readonly headersTimeoutMs: number;
  /** From the start of a request to its last body byte: 408 on HTTP/1.1, a reset HTTP/2 stream. */
  readonly requestTimeoutMs: number;
  /** An HTTP/1.1 connection between requests, or an HTTP/2 session with no open stream. */
  readonly idleTimeoutMs: number;
}

export interface ListenerOptions extends ConnectionDeadlines {
  /**
   * Takes the HTTP/2 connections instead of the connect-node HTTP/2 server: the native gRPC
   * server (grpc-js), whose speed is what gRPC callers need. Without it connect-node serves
   * every protocol on HTTP/2 too.
   */
  readonly http2Sink?: Http2ConnectionSink;
  /** Most open connections; past it new ones are closed at once. */
  readonly connectionsMax?: number;
  /** Most calls in flight on one HTTP/2 connection served by connect-node (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly streamsPerConnectionMax?: number;
  /** PEM certificate chain and key: when set, the port speaks TLS only, offering ALPN h2 and http/1.1. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Told of every connection cut for stalling. */
  readonly onStalled?: (kind: StallKind) => void;
}

/** A server that accepts already-open HTTP/2 connections, like grpc-js's connection injector. */
export interface Http2ConnectionSink {
  injectConnection(connection: Socket): void;
  /** Sends GOAWAY to its sessions; after `graceTimeMs` ends those still open. */
  drain(graceTimeMs: number): void;
  destroy(): void;
}

/** A TCP listener that hands each connection to an HTTP/2 or an HTTP/1.1 server. */
export class DualProtocolListener {
  private readonly net: NetServer;
  private readonly http1: HttpServer;
  private readonly http2: Http2Server;
  private readonly sockets = new Set<Socket>();
  private readonly http1Sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private draining = false;
  private readonly http2Sink: Http2ConnectionSink | undefined;
  private readonly backlog: number;
  private readonly deadlines: ConnectionDeadlines;
  private readonly onStalled: (kind: StallKind) => void;

  constructor(handler: Handler, options: ListenerOptions) {
    this.http2Sink = options.http2Sink;
    this.deadlines = options;
    this.onStalled = options.onStalled ?? (() => undefined);
    this.http1 = this.createHttp1Server(handler, options);
    this.http2 = createHttp2Server(
      options.streamsPerConnectionMax === undefined
        ? {}
        : { settings: { maxConcurrentStreams: options.streamsPerConnectionMax } },
      (request: Http2ServerRequest, response: Http2ServerResponse) => {
        guardHttp2Stream(request, response, options.requestTimeoutMs, () => this.onStalled("http2_request"));
        handler(request, response);
      },
    );
    this.http2.on("session", (session: Http2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      guardHttp2Session(session, options.idleTimeoutMs, () => this.onStalled("http2_idle"));
    });
    const accept = (socket: Socket) => this.route(socket);
    // Over TLS the decrypted stream takes the same route: an HTTP/2 client still opens with the
    // preface, so one sniffing path serves both, whatever ALPN agreed.
    if (options.tls === undefined) {
      this.net = createNetServer(accept);
    } else {
      const tls = createTlsServer(
        { ...options.tls, ALPNProtocols: ["h2", "http/1.1"], handshakeTimeout: options.headersTimeoutMs },
        accept,
      );
      tls.on("tlsClientError", (error: NodeJS.ErrnoException, socket: Socket) => {
        if (error.code === "ERR_TLS_HANDSHAKE_TIMEOUT") this.onStalled("tls_handshake");
        socket.destroy();
      });
      this.net = tls;
    }
    if (options.connectionsMax !== undefined) this.net.maxConnections = options.connectionsMax;
    // Node's default accept backlog (511) drops the SYNs of a burst of new connections, and the
    // clients then wait 1, 3, 7 s to retry; the kernel caps this at net.core.somaxconn.
    this.backlog = options.connectionsMax ?? 511;
  }

  private createHttp1Server(handler: Handler, deadlines: ConnectionDeadlines): HttpServer {
    const server = createHttpServer(
      {
        headersTimeout: deadlines.headersTimeoutMs,
        requestTimeout: deadlines.requestTimeoutMs,
        keepAliveTimeout: deadlines.idleTimeoutMs,
        // How often Node checks the two deadlines above: a quarter of the shorter, at most 1 s.
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(deadlines.headersTimeoutMs / 4))),
      },
      (request, response) => {
        // While draining, each HTTP/1.1 connection closes after the response it is serving.
        if (this.draining) response.setHeader("connection", "close");
        handler(request, response);
      },
    );
    // Node enforces headersTimeout and requestTimeout only for connections it tracks, and it
    // starts tracking on 'listening', which a server that never calls listen() (ours is handed
    // its sockets) does not emit by itself.
    server.emit("listening");
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
      const timedOut = error.code === "ERR_HTTP_REQUEST_TIMEOUT";
      if (timedOut) this.onStalled("http1_request");
      const answered =
        (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent ?? false;
      if (socket.writable && !answered) {
        socket.end(
          timedOut
            ? "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
            : "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
        );
      }
      socket.destroySoon();
    });
    return server;
  }

  /** Open TCP connections: tests wait for zero to prove that nothing leaks. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.net.once("error", reject);
      this.net.listen({ port, host, backlog: this.backlog }, () => {
        this.net.off("error", reject);
        resolve(this.net.address() as AddressInfo);
      });
    });
  }

  /**
   * Stops accepting connections and asks the open ones to finish: HTTP/2 sessions get GOAWAY
   * (in-flight streams complete), idle HTTP/1.1 connections close and busy ones close after
   * their response.
   */
  stopAccepting(): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const session of this.sessions) session.close();
    // The grace is the caller's to enforce: it destroys what is left with destroyAll().
    this.http2Sink?.drain(2 ** 31 - 1);
    // Stops the HTTP/1.1 deadline checks' timer and closes idle connections it tracks.
    this.http1.close();
    this.closeIdleHttp1();
    return closed;
  }

  /** Resolves once every connection has closed, or after `timeoutMs`, whichever comes first. */
  async waitForConnectionsClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      this.closeIdleHttp1();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.sockets.size === 0;
  }

  /** Ends every connection now: the hard deadline of a shutdown. Resolves once they have closed. */
  async destroyAll(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    this.http2Sink?.destroy();
    for (const socket of this.sockets) socket.destroy();
    // A destroyed socket reports "close" a turn or two later; wait so callers see zero.
    await this.waitForConnectionsClosed(1000);
  }

  /**
   * Closes HTTP/1.1 connections that are between requests. The HTTP server's own
   * closeIdleConnections() only knows connections it accepted itself, not ones handed to it.
   */
  private closeIdleHttp1(): void {
    for (const socket of this.http1Sockets) {
      if (((socket as Socket & { _httpMessage?: unknown })._httpMessage ?? null) === null) socket.destroy();
    }
  }

  private route(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    // An absolute deadline, not an idle one: a byte every few seconds must not keep it open.
    const deadline = setTimeout(() => {
      this.onStalled("preface");
      socket.destroy();
    }, this.deadlines.headersTimeoutMs);
    socket.once("close", () => clearTimeout(deadline));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const protocol = classifyFirstBytes(head);
      if (protocol === "need_more") return;
      clearTimeout(deadline);
      socket.off("data", onData);
      if (protocol === "invalid") {
        socket.destroy();
        return;
      }
      socket.pause();
      socket.unshift(head);
      if (protocol === "http2") {
        // The HTTP/2 session reads what is buffered on the next tick; resuming here would let
        // the preface flow past with no listener and be lost.
        // Over TLS, browsers negotiate h2 for gRPC-Web and Connect, which only connect-node
        // serves, so encrypted HTTP/2 goes there (native gRPC included). Cleartext h2c comes from
        // native gRPC clients (browsers never speak it), so it goes to the faster sink.
        const encrypted = (socket as Socket & { encrypted?: boolean }).encrypted === true;
        if (this.http2Sink === undefined || encrypted) this.http2.emit("connection", socket);
        else this.http2Sink.injectConnection(socket);
      } else {
        this.http1Sockets.add(socket);
        socket.once("close", () => this.http1Sockets.delete(socket));
        this.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}

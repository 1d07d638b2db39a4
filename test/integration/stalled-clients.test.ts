/**
 * Clients that stall before finishing a request: each kind is cut after its deadline (408 for
 * HTTP/1.1, the socket closed for HTTP/2), counted in a log line, and while 1,000 of them are
 * open, legitimate callers on HTTP/1.1 and native gRPC are still served.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { expect } from "chai";
import { pino } from "pino";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { readConfig } from "../../src/config.js";
import { build, type App } from "../../src/server.js";
import { makeCertificate } from "../support/certificate.js";
import { GrpcTestClient } from "../support/grpc-client.js";

const HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

interface Running {
  readonly app: App;
  readonly port: number;
  readonly logs: string[];
  stop(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-stall-"));
  const config = readConfig({ LEDGER_PORT: "0", LEDGER_DB: join(dir, "ledger.db"), LEDGER_LOG_LEVEL: "info", ...env });
  const logs: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      logs.push(chunk.toString());
      done();
    },
  });
  const app = await build(config, pino({ level: "info" }, sink));
  const { port } = await app.listen();
  return {
    app,
    port,
    logs,
    async stop() {
      await app.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Stalled {
  readonly socket: Socket;
  /** Resolves with what the server sent and how long after the last write it closed. */
  readonly closed: Promise<{ received: string; afterMs: number }>;
}

function stall(
  port: number,
  chunks: (string | Buffer)[],
  options: { tls?: boolean; alpn?: string } = {},
): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket: Socket =
      options.tls === true
        ? tlsConnect({
            port,
            host: "127.0.0.1",
            rejectUnauthorized: false,
            ALPNProtocols: [options.alpn ?? "http/1.1"],
          })
        : netConnect({ port, host: "127.0.0.1" });
    let received = "";
    let wroteAt = 0;
    socket.on("data", (data: Buffer) => (received += data.toString("latin1")));
    const closed = new Promise<{ received: string; afterMs: number }>((resolveClosed) => {
      socket.on("close", () => resolveClosed({ received, afterMs: Date.now() - wroteAt }));
    });
    socket.on("error", () => undefined);
    socket.once(options.tls === true ? "secureConnect" : "connect", () => {
      for (const chunk of chunks) socket.write(chunk);
      wroteAt = Date.now();
      resolve({ socket, closed });
    });
    socket.once("error", reject);
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms)),
  ]);
}

const SHORT = { LEDGER_HEADERS_TIMEOUT_MS: "300", LEDGER_REQUEST_TIMEOUT_MS: "600", LEDGER_IDLE_TIMEOUT_MS: "600" };
const CUT_WITHIN_MS = 4000;

const HTTP1_KINDS: [string, (string | Buffer)[]][] = [
  ["nothing at all", []],
  ["one byte", ["G"]],
  ["headers without their end", ["GET /healthz HTTP/1.1\r\nHost: x\r\n"]],
  [
    "a body shorter than its Content-Length",
    [
      "POST /ledger.v1.LedgerService/GetBalance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    ],
  ],
];
const HTTP2_KINDS: [string, (string | Buffer)[]][] = [
  ["PRI alone", ["PRI "]],
  ["the HTTP/2 preface without SETTINGS", [HTTP2_PREFACE]],
];

describe("stalled clients are cut after their deadline", function () {
  this.timeout(120_000);

  for (const grpcServer of ["http2", "grpc-js", "connect"]) {
    describe(`cleartext, LEDGER_GRPC_SERVER=${grpcServer}`, () => {
      let server: Running;
      before(async () => (server = await start({ ...SHORT, LEDGER_GRPC_SERVER: grpcServer })));
      after(async () => server.stop());

      for (const [kind, chunks] of HTTP1_KINDS) {
        it(`HTTP/1.1, ${kind}: 408 (or closed before any byte) and closed`, async () => {
          const stalled = await stall(server.port, chunks);
          const { received, afterMs } = await within(stalled.closed, CUT_WITHIN_MS, kind);
          if (chunks.length > 0) expect(received).to.match(/^HTTP\/1\.1 408 /);
          expect(afterMs).to.be.at.least(250);
        });
      }

      for (const [kind, chunks] of HTTP2_KINDS) {
        it(`HTTP/2, ${kind}: closed`, async () => {
          const stalled = await stall(server.port, chunks);
          const { afterMs } = await within(stalled.closed, CUT_WITHIN_MS, kind);
          expect(afterMs).to.be.at.least(250);
        });
      }

      it("HTTP/2, a session that opens and then sends nothing: GOAWAY and closed after the idle deadline", async () => {
        const stalled = await stall(server.port, [HTTP2_PREFACE, EMPTY_SETTINGS]);
        const { received } = await within(stalled.closed, CUT_WITHIN_MS, "idle session");
        // A GOAWAY frame (type 7) is among what the server sent before closing.
        expect(received.length).to.be.greaterThan(0);
      });

      it("says so in a log line with the count by kind", async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const lines = server.logs.filter((line) => line.includes("cut stalled connections"));
        expect(lines.length, server.logs.join("")).to.be.greaterThan(0);
        const counts: Record<string, number> = {};
        for (const line of lines) {
          for (const [kind, count] of Object.entries(
            (JSON.parse(line) as { stalled: Record<string, number> }).stalled,
          )) {
            counts[kind] = (counts[kind] ?? 0) + count;
          }
        }
        expect(counts["http1_request"]).to.be.at.least(3);
        expect(counts["preface"]).to.be.at.least(3);
      });
    });
  }

  describe("TLS", () => {
    let server: Running;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-stall-tls-"));
      const { cert, key } = makeCertificate(dir);
      server = await start({ ...SHORT, LEDGER_TLS_CERT: cert, LEDGER_TLS_KEY: key });
    });
    after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("a TCP connection that never starts the handshake: closed", async () => {
      const stalled = await stall(server.port, []);
      await within(stalled.closed, CUT_WITHIN_MS, "no handshake");
    });

    it("HTTP/1.1 over TLS, headers without their end: 408 and closed", async () => {
      const stalled = await stall(server.port, ["GET /healthz HTTP/1.1\r\nHost: x\r\n"], { tls: true });
      const { received } = await within(stalled.closed, CUT_WITHIN_MS, "TLS headers");
      expect(received).to.match(/^HTTP\/1\.1 408 /);
    });

    it("HTTP/2 over TLS, the preface without SETTINGS: closed", async () => {
      const stalled = await stall(server.port, [HTTP2_PREFACE], { tls: true, alpn: "h2" });
      await within(stalled.closed, CUT_WITHIN_MS, "TLS preface");
    });

    it("HTTP/2 over TLS, a session that opens and then sends nothing: closed after the idle deadline", async () => {
      const stalled = await stall(server.port, [HTTP2_PREFACE, EMPTY_SETTINGS], { tls: true, alpn: "h2" });
      await within(stalled.closed, CUT_WITHIN_MS, "TLS idle session");
    });
  });

  describe("1,000 stalled sockets", () => {
    it("do not stop /healthz or a gRPC call, and all of them are cut after the deadline", async () => {
      const server = await start({
        LEDGER_HEADERS_TIMEOUT_MS: "3000",
        LEDGER_REQUEST_TIMEOUT_MS: "3000",
        LEDGER_IDLE_TIMEOUT_MS: "3000",
        LEDGER_CONNECTIONS_MAX: "1050",
      });
      const client = new GrpcTestClient(`127.0.0.1:${server.port}`);
      const sockets: Stalled[] = [];
      try {
        const kinds = [...HTTP1_KINDS.slice(1), ...HTTP2_KINDS].map(([, chunks]) => chunks);
        for (let index = 0; index < 1000; index += 1)
          sockets.push(await stall(server.port, kinds[index % kinds.length] ?? []));
        const health = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(2000) });
        expect(health.status).to.equal(200);
        const loaded = await client.unary(
          LedgerService.method.load,
          { userId: "legit", amount: 5n },
          { deadlineMs: 2000 },
        );
        expect(loaded.balanceAfter).to.equal(5n);
        const results = await within(
          Promise.all(sockets.map((stalled) => stalled.closed)),
          15_000,
          "1,000 stalled sockets",
        );
        expect(results).to.have.length(1000);
        expect(server.app.listener.connectionCount).to.be.at.most(2);
      } finally {
        client.close();
        for (const stalled of sockets) stalled.socket.destroy();
        await server.stop();
      }
    });

    it("with LEDGER_CONNECTIONS_MAX=20, 20 stalled sockets give way to a legitimate caller after the deadline", async () => {
      const server = await start({ ...SHORT, LEDGER_CONNECTIONS_MAX: "20" });
      const sockets: Stalled[] = [];
      try {
        for (let index = 0; index < 20; index += 1)
          sockets.push(await stall(server.port, ["GET /healthz HTTP/1.1\r\nHost: x\r\n"]));
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const health = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(3000) });
        expect(health.status).to.equal(200);
      } finally {
        for (const stalled of sockets) stalled.socket.destroy();
        await server.stop();
      }
    });
  });
});

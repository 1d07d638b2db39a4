/**
 * TLS on the single port (LEDGER_TLS_CERT / LEDGER_TLS_KEY) with a self-signed certificate made
 * by openssl: ALPN offers h2 and http/1.1, native gRPC over both gRPC servers, Connect over
 * HTTP/2 and HTTP/1.1 and /healthz all work over TLS, and cleartext is refused.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { expect } from "chai";
import { pino } from "pino";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { readConfig } from "../../src/config.js";
import { build } from "../../src/server.js";
import { startApp, type TestApp } from "../support/app.js";
import { makeCertificate } from "../support/certificate.js";
import { grpc } from "../support/grpc-client.js";

const { load } = LedgerService.method;

/** A Load over native gRPC with TLS (grpc-js client), or the error code name. */
function grpcLoad(address: string, credentials: grpc.ChannelCredentials, userId: string): Promise<string> {
  const client = new grpc.Client(address, credentials, {
    "grpc.ssl_target_name_override": "localhost",
    "grpc.default_authority": "localhost",
  });
  return new Promise<string>((resolve) => {
    client.makeUnaryRequest(
      `/${LedgerService.typeName}/Load`,
      (message: object) => Buffer.from(toBinary(load.input, create(load.input, message))),
      (bytes: Buffer) => fromBinary(load.output, bytes),
      { userId, amount: 5n },
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, response) => resolve(error ? grpc.status[error.code] : `OK ${response?.balanceAfter}`),
    );
  }).finally(() => client.close());
}

function httpsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    // https sends ALPN http/1.1 through to tls.connect; its RequestOptions type omits the field.
    const options = {
      host: "127.0.0.1",
      servername: "localhost",
      port,
      path,
      ca,
      ALPNProtocols: ["http/1.1"],
      agent: false,
    } as RequestOptions;
    const request = httpsRequest(options, (response) => {
      response.resume();
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          alpn: (response.socket as { alpnProtocol?: string | false }).alpnProtocol ?? null,
        }),
      );
    });
    request.on("error", reject);
    request.end();
  });
}

for (const grpcServer of ["http2", "grpc-js", "connect"]) {
  describe(`TLS on the single port (gRPC via ${grpcServer})`, () => {
    let dir: string;
    let server: TestApp;
    let ca: Buffer;
    let port: number;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-tls-"));
      const { cert, key } = makeCertificate(dir);
      ca = readFileSync(cert);
      server = await startApp({ LEDGER_TLS_CERT: cert, LEDGER_TLS_KEY: key, LEDGER_GRPC_SERVER: grpcServer });
      port = Number(server.address.split(":")[1]);
    });

    after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("offers h2 and http/1.1 by ALPN", async () => {
      for (const protocol of ["h2", "http/1.1"]) {
        const negotiated = await new Promise<string | false | null>((resolve, reject) => {
          const socket = tlsConnect(
            { host: "127.0.0.1", servername: "localhost", port, ca, ALPNProtocols: [protocol] },
            () => {
              resolve(socket.alpnProtocol);
              socket.end();
            },
          );
          socket.on("error", reject);
        });
        expect(negotiated).to.equal(protocol);
      }
    });

    it("serves native gRPC over TLS", async () => {
      expect(await grpcLoad(server.address, grpc.credentials.createSsl(ca), "tls-grpc")).to.equal("OK 5");
    });

    it("serves Connect and gRPC-Web over TLS HTTP/2, as browsers negotiate them", async () => {
      const connect = createClient(
        LedgerService,
        createConnectTransport({
          baseUrl: `https://localhost:${port}`,
          httpVersion: "2",
          useBinaryFormat: false,
          nodeOptions: { ca },
        }),
      );
      expect((await connect.load({ userId: "tls-h2-connect", amount: 3n })).balanceAfter).to.equal(3n);
      const grpcWeb = createClient(
        LedgerService,
        createGrpcWebTransport({ baseUrl: `https://localhost:${port}`, httpVersion: "2", nodeOptions: { ca } }),
      );
      expect((await grpcWeb.load({ userId: "tls-h2-web", amount: 4n })).balanceAfter).to.equal(4n);
    });

    it("serves Connect JSON and /healthz over HTTP/1.1 with TLS", async () => {
      const client = createClient(
        LedgerService,
        createConnectTransport({
          baseUrl: `https://localhost:${port}`,
          httpVersion: "1.1",
          useBinaryFormat: false,
          nodeOptions: { ca },
        }),
      );
      const answer = await client.load({ userId: "tls-connect", amount: 7n });
      expect(answer.balanceAfter).to.equal(7n);
      expect(await httpsGet(port, "/healthz", ca)).to.deep.equal({ status: 200, alpn: "http/1.1" });
    });

    it("refuses cleartext callers and callers that do not trust the certificate", async () => {
      expect(await grpcLoad(server.address, grpc.credentials.createInsecure(), "plain")).to.equal("UNAVAILABLE");
      let plainError: unknown;
      await fetch(`http://127.0.0.1:${port}/healthz`).catch((error: unknown) => (plainError = error));
      expect(plainError).to.be.instanceOf(Error);
      expect(await grpcLoad(server.address, grpc.credentials.createSsl(), "untrusted")).to.equal("UNAVAILABLE");
    });
  });
}

describe("TLS configuration", () => {
  it("fails start-up naming an unreadable certificate or key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-tls-"));
    try {
      const config = readConfig({
        LEDGER_PORT: "0",
        LEDGER_DB: join(dir, "ledger.db"),
        LEDGER_TLS_CERT: join(dir, "none.pem"),
        LEDGER_TLS_KEY: join(dir, "none-key.pem"),
      });
      let error: unknown;
      await build(config, pino({ level: "silent" })).catch((caught: unknown) => (error = caught));
      expect(String(error))
        .to.match(/LEDGER_TLS_CERT .*none.pem cannot be read/)
        .and.match(/LEDGER_TLS_KEY .*none-key.pem cannot be read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * StreamEntries over every protocol a consumer may use, with connect-node's own clients: Connect
 * and gRPC-Web on HTTP/1.1 (the default server), Connect and gRPC on HTTP/2 when connect-node
 * takes HTTP/2 (LEDGER_GRPC_SERVER=connect), and deadlines on both engines.
 */
import { expect } from "chai";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { GrpcTestClient, grpc } from "../support/grpc-client.js";
import { openStream, writeUntilDeliveredPlateaus } from "../support/entry-stream-client.js";
import { callError } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { scrape } from "../support/prometheus.js";

async function loadSome(server: TestApp, count: number): Promise<bigint[]> {
  const client = createClient(LedgerService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
  const ids: bigint[] = [];
  // Fifty at a time, each batch in order after the previous one: ids ascend batch by batch.
  for (let done = 0; done < count; done += 50) {
    const batch = Array.from({ length: Math.min(50, count - done) }, (_, index) =>
      client.load({ userId: `u${(done + index) % 3}`, amount: 5n }).then((answer) => answer.entryId),
    );
    ids.push(...(await Promise.all(batch)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return ids;
}

/** Loads over native gRPC, fifty at a time, each batch after the previous one (ids ascend). */
async function loadOverGrpc(client: GrpcTestClient, count: number): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let done = 0; done < count; done += 50) {
    const batch = Array.from({ length: Math.min(50, count - done) }, (_, index) =>
      client.unary(LedgerService.method.load, { userId: `u${(done + index) % 3}`, amount: 5n }),
    );
    ids.push(
      ...(await Promise.all(batch)).map((answer) => answer.entryId).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  }
  return ids;
}

async function readStream(transport: Transport, afterId: bigint, maxEntries: bigint): Promise<bigint[]> {
  const client = createClient(LedgerService, transport);
  const cursors: bigint[] = [];
  for await (const message of client.streamEntries({ start: { case: "afterEntryId", value: afterId }, maxEntries })) {
    expect(message.entry?.id).to.equal(message.cursor);
    cursors.push(message.cursor);
  }
  return cursors;
}

describe("StreamEntries over each protocol", function () {
  this.timeout(60_000);

  describe("default server (grpc-js on HTTP/2, connect-node on HTTP/1.1)", () => {
    let server: TestApp;
    before(async () => {
      server = await startApp();
    });
    after(async () => {
      await server.stop();
    });

    it("streams over Connect (binary) and gRPC-Web on HTTP/1.1", async () => {
      const ids = await loadSome(server, 6);
      const connect = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: true });
      expect(await readStream(connect, ids[0] ?? 0n, 3n)).to.deep.equal(ids.slice(1, 4));
      const grpcWeb = createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" });
      expect(await readStream(grpcWeb, ids[2] ?? 0n, 3n)).to.deep.equal(ids.slice(3, 6));
    });

    it("ends a stream at its deadline: native gRPC and Connect", async () => {
      await loadSome(server, 1);
      const client = new GrpcTestClient(server.address);
      try {
        const waiting = openStream(client, {}, { deadlineMs: 300 });
        expect((await callError(waiting.ended)).code).to.equal(grpc.status.DEADLINE_EXCEEDED);
      } finally {
        client.close();
      }
      const connect = createClient(
        LedgerService,
        createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
      );
      const error = await (async () => {
        try {
          for await (const message of connect.streamEntries({}, { timeoutMs: 300 })) void message;
        } catch (caught) {
          return ConnectError.from(caught);
        }
        throw new Error("the stream ended without an error");
      })();
      expect(error.code).to.equal(Code.DeadlineExceeded);
    });
  });

  describe("a quiet stream and the connection timeouts", () => {
    let server: TestApp;
    before(async () => {
      server = await startApp({
        LEDGER_HEADERS_TIMEOUT_MS: "200",
        LEDGER_REQUEST_TIMEOUT_MS: "200",
        LEDGER_IDLE_TIMEOUT_MS: "200",
      });
    });
    after(async () => {
      await server.stop();
    });

    it("outlives the request and idle timeouts while no entry comes, then delivers the next one", async () => {
      const client = new GrpcTestClient(server.address);
      const connect = createClient(
        LedgerService,
        createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
      );
      try {
        const native = openStream(client, {});
        const overHttp1 = (async () => {
          for await (const message of connect.streamEntries({ maxEntries: 1n })) return message.cursor;
          return undefined;
        })();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const [id] = await loadSome(server, 1);
        await native.until(1);
        native.call.cancel();
        expect(native.received[0]?.cursor).to.equal(id);
        expect(await overHttp1).to.equal(id);
      } finally {
        client.close();
      }
    });
  });

  describe("connect-node on HTTP/2 (LEDGER_GRPC_SERVER=connect)", () => {
    let server: TestApp;
    before(async () => {
      server = await startApp({ LEDGER_GRPC_SERVER: "connect" });
    });
    after(async () => {
      await server.stop();
    });

    it("streams over Connect and gRPC on HTTP/2", async () => {
      const ids = await loadSome(server, 5);
      const connect = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2" });
      expect(await readStream(connect, ids[0] ?? 0n, 2n)).to.deep.equal(ids.slice(1, 3));
      const grpcTransport = createGrpcTransport({ baseUrl: server.baseUrl });
      expect(await readStream(grpcTransport, ids[2] ?? 0n, 2n)).to.deep.equal(ids.slice(3, 5));
    });

    it("throttles a paused consumer: connect-node stops pulling entries for it", async () => {
      const client = new GrpcTestClient(server.address);
      try {
        const [startId = 0n] = await loadSome(server, 1);
        const stream = openStream(client, { start: { case: "afterEntryId", value: startId } });
        stream.call.pause();
        const { ids, plateau } = await writeUntilDeliveredPlateaus(
          () => loadOverGrpc(client, 1000),
          async () => (await scrape(server.baseUrl)).value("ledger_stream_entries_delivered_total"),
        );
        expect(plateau).to.be.below(ids.length);
        stream.call.resume();
        await stream.until(ids.length);
        stream.call.cancel();
        expect(stream.received.map((message) => message.cursor)).to.deep.equal(ids);
      } finally {
        client.close();
      }
    });
  });
});

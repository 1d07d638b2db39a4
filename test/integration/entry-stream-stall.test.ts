/**
 * StreamEntries and a consumer that stops reading (LEDGER_STREAM_STALL_TIMEOUT_MS): it is cut with
 * RESOURCE_EXHAUSTED, STREAM_CONSUMER_TOO_SLOW and the cursor, after the messages already written,
 * over native gRPC (the default engine, grpc-js, connect-node on HTTP/2) and Connect on HTTP/1.1,
 * and resumes from that cursor with no gap and no duplicate. A consumer that reads slowly but
 * steadily, and an idle stream with nothing to send, are never cut.
 */
import { expect } from "chai";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LedgerService, type StreamEntriesResponse } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { openStream, writeUntilDeliveredPlateaus } from "../support/entry-stream-client.js";
import { scrape } from "../support/prometheus.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const { load } = LedgerService.method;
const STALL_TIMEOUT_MS = 300;

/** Writes `count` loads, `parallel` at a time, each batch after the previous one; returns their ids in order. */
async function writeEntries(client: GrpcTestClient, count: number, parallel = 50): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let done = 0; done < count; done += parallel) {
    const calls = Array.from({ length: Math.min(parallel, count - done) }, (_, index) =>
      client.unary(load, { userId: `u${(done + index) % 5}`, amount: 3n }).then((answer) => answer.entryId),
    );
    ids.push(...(await Promise.all(calls)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return ids;
}

/**
 * Like `writeEntries`, with the longest user ids and idempotency keys: the kernel's socket buffers
 * under an HTTP/1.1 connection hold megabytes, so fewer, larger messages fill them sooner.
 */
async function writeLongEntries(client: GrpcTestClient, count: number): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let done = 0; done < count; done += 50) {
    const calls = Array.from({ length: Math.min(50, count - done) }, (_, index) => {
      const number = String(done + index + Date.now() * 1000);
      return client
        .unary(load, {
          userId: `u${(done + index) % 5}`.padEnd(128, "x"),
          amount: 3n,
          idempotencyKey: number.padEnd(128, "k"),
        })
        .then((answer) => answer.entryId);
    });
    ids.push(...(await Promise.all(calls)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return ids;
}

function delivered(server: TestApp): () => Promise<number> {
  return async () => (await scrape(server.baseUrl)).value("ledger_stream_entries_delivered_total");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A paused native gRPC consumer while rounds of entries are written: once the transport stops
 * taking messages for longer than the stall timeout the server cuts it. Checks the status, that
 * the cursor is the last message received (or, on the grpc-js engine, at or after it: there the
 * client may surface the status before messages it still held), and that resuming from the
 * consumer's own last cursor yields exactly the rest.
 */
async function expectPausedConsumerCut(
  server: TestApp,
  client: GrpcTestClient,
  cursorIs: "the last received" | "at or after the last received" = "the last received",
): Promise<void> {
  const [startId = 0n] = await writeEntries(client, 1);
  const stream = openStream(client, { start: { case: "afterEntryId", value: startId } });
  stream.call.pause();
  const { ids } = await writeUntilDeliveredPlateaus(() => writeEntries(client, 1000), delivered(server));
  stream.call.resume();
  const error = await callError(stream.ended);
  expect(error.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
  expect(error.reason).to.equal("STREAM_CONSUMER_TOO_SLOW");
  expect(error.message).to.match(/took no message for 300 ms.*after_entry_id/);
  const received = stream.received.map((message) => message.cursor);
  expect(received.length).to.be.below(ids.length);
  expect(received).to.deep.equal(ids.slice(0, received.length));
  // The metadata's cursor is the last entry the server handed its transport: at or after the last
  // message this client processed (grpc-js's client may surface the status before messages it
  // still held). The consumer resumes from its own last cursor, which is never past a gap.
  const cursor = BigInt(error.metadata.cursor ?? "-1");
  if (cursorIs === "the last received") {
    expect(received.length).to.be.above(0);
    expect(cursor).to.equal(received.at(-1));
  } else {
    expect(ids).to.include(cursor);
    expect(cursor >= (received.at(-1) ?? startId)).to.equal(true);
  }

  const rest = await readResuming(client, received.at(-1) ?? startId, ids.length - received.length);
  expect([...received, ...rest]).to.deep.equal(ids);
}

/** Resumes a consumer may need in one read: a bound, so that a server cutting it for ever fails. */
const RESUMES_MAX = 10;

/**
 * The cursors of the `count` entries after `cursor`, read as a real consumer would: when the server
 * cuts it as too slow, it resumes from the last cursor it received. On a busy machine even a
 * consumer that reads as fast as it can may go 300 ms without taking a message (a CI run cut the
 * resumed read of thousands of entries so); any other end fails.
 */
async function readResuming(client: GrpcTestClient, cursor: bigint, count: number): Promise<bigint[]> {
  const cursors: bigint[] = [];
  for (let resumes = 0; ; resumes += 1) {
    const stream = openStream(client, { start: { case: "afterEntryId", value: cursors.at(-1) ?? cursor } });
    try {
      await stream.until(count - cursors.length);
      stream.call.cancel();
      return [...cursors, ...stream.received.map((message) => message.cursor)];
    } catch (error) {
      cursors.push(...stream.received.map((message) => message.cursor));
      const tooSlow = error instanceof GrpcCallError && error.reason === "STREAM_CONSUMER_TOO_SLOW";
      if (!tooSlow || resumes >= RESUMES_MAX) throw error;
    }
  }
}

for (const store of STORE_KINDS)
  describe(`StreamEntries stall timeout on ${store}`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      server = await startApp(
        { LEDGER_STREAM_POLL_INTERVAL_MS: "50", LEDGER_STREAM_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS) },
        store,
      );
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    it("cuts a native gRPC consumer that stops reading, with the cursor it resumes from exactly", async () => {
      await expectPausedConsumerCut(server, client);
    });

    it("never cuts a consumer that reads one message per 100 ms while entries keep coming", async () => {
      const [startId = 0n] = await writeEntries(client, 1);
      const reader = createClient(LedgerService, createGrpcTransport({ baseUrl: server.baseUrl }));
      const writing = (async () => {
        const ids: bigint[] = [];
        for (let round = 0; round < 8; round += 1) {
          ids.push(...(await writeEntries(client, 3)));
          await sleep(150);
        }
        return ids;
      })();
      const received: bigint[] = [];
      for await (const message of reader.streamEntries({
        start: { case: "afterEntryId", value: startId },
        maxEntries: 24n,
      })) {
        received.push(message.cursor);
        await sleep(100);
      }
      expect(received).to.deep.equal(await writing);
    });

    it("does not cut an idle stream that has nothing to send, however long the consumer does not read", async () => {
      const stream = openStream(client, {});
      stream.call.pause();
      await sleep(STALL_TIMEOUT_MS * 4);
      stream.call.resume();
      const [id] = await writeEntries(client, 1);
      await stream.until(1);
      stream.call.cancel();
      expect(stream.received.map((message) => message.cursor)).to.deep.equal([id]);
    });
  });

// The other HTTP/2 engines: grpc-js, and connect-node serving gRPC and Connect on HTTP/2.
for (const engine of ["grpc-js", "connect"])
  describe(`StreamEntries stall timeout on the ${engine} engine (LEDGER_GRPC_SERVER=${engine})`, function () {
    this.timeout(120_000);

    it("cuts a native gRPC consumer that stops reading, with the cursor it resumes from exactly", async () => {
      const server = await startApp({
        LEDGER_GRPC_SERVER: engine,
        LEDGER_STREAM_POLL_INTERVAL_MS: "50",
        LEDGER_STREAM_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
      });
      const client = new GrpcTestClient(server.address);
      try {
        await expectPausedConsumerCut(
          server,
          client,
          engine === "grpc-js" ? "at or after the last received" : "the last received",
        );
      } finally {
        client.close();
        await server.stop();
      }
    });
  });

describe("StreamEntries stall timeout over Connect on HTTP/1.1", function () {
  this.timeout(120_000);
  let server: TestApp;
  let client: GrpcTestClient;

  before(async () => {
    server = await startApp({
      LEDGER_STREAM_POLL_INTERVAL_MS: "50",
      LEDGER_STREAM_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
    });
    client = new GrpcTestClient(server.address);
  });

  after(async () => {
    client.close();
    await server.stop();
  });

  it("cuts a Connect consumer on HTTP/1.1 that stops reading, and it resumes from the cursor", async () => {
    const [startId = 0n, ...rest] = await writeEntries(client, 2);
    const connect = createClient(
      LedgerService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    );
    const messages = connect.streamEntries({ start: { case: "afterEntryId", value: startId } })[Symbol.asyncIterator]();
    // The first message proves the call is open; then the consumer reads nothing.
    const first = await messages.next();
    expect((first.value as StreamEntriesResponse).cursor).to.equal(rest[0]);
    const { ids } = await writeUntilDeliveredPlateaus(() => writeLongEntries(client, 1000), delivered(server));
    const received: bigint[] = [...rest];
    let ended: unknown;
    try {
      for (let next = await messages.next(); next.done !== true; next = await messages.next()) {
        received.push(next.value.cursor);
      }
    } catch (error) {
      ended = error;
    }
    expect(ended).to.be.instanceOf(ConnectError);
    const error = ended as ConnectError;
    expect(error.code).to.equal(Code.ResourceExhausted);
    const info = error.findDetails(ErrorInfoSchema)[0];
    expect(info?.reason).to.equal("STREAM_CONSUMER_TOO_SLOW");
    expect(info?.metadata.cursor).to.equal(String(received.at(-1)));
    const all = [...rest, ...ids];
    expect(received.length).to.be.below(all.length);
    expect(received).to.deep.equal(all.slice(0, received.length));

    const resumed = await readResuming(client, received.at(-1) ?? 0n, all.length - received.length);
    expect([...received, ...resumed]).to.deep.equal(all);
  });
});

// A consumer that stops reading and then cancels: the server's handler, blocked on the transport's
// back-pressure, must end (and free what it holds) at the cancellation, not at the connection's close.
for (const engine of ["http2", "grpc-js", "connect"])
  describe(`StreamEntries cancelled while the server waits on back-pressure (LEDGER_GRPC_SERVER=${engine})`, function () {
    this.timeout(120_000);

    it("ends the stream's handler when the caller cancels", async () => {
      // A stall timeout far beyond the test, so only the cancellation can end the handler.
      const server = await startApp({ LEDGER_GRPC_SERVER: engine, LEDGER_STREAM_POLL_INTERVAL_MS: "50" });
      const client = new GrpcTestClient(server.address);
      const subscribers = async () => (await scrape(server.baseUrl)).value("ledger_stream_subscribers");
      try {
        const [startId = 0n] = await writeEntries(client, 1);
        const stream = openStream(client, { start: { case: "afterEntryId", value: startId } });
        stream.call.pause();
        await writeUntilDeliveredPlateaus(() => writeEntries(client, 1000), delivered(server));
        expect(await subscribers()).to.equal(1);
        stream.call.cancel();
        const deadline = Date.now() + 10_000;
        while ((await subscribers()) !== 0 && Date.now() < deadline) await sleep(50);
        expect(await subscribers()).to.equal(0);
      } finally {
        client.close();
        await server.stop();
      }
    });
  });

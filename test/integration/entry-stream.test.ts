/**
 * StreamEntries on each store, over native gRPC and Connect (HTTP/1.1 JSON): exactly once and in
 * order across many disconnections under concurrent writes, filters, "now", every error outcome,
 * a paused consumer that costs no buffering, and on PostgreSQL two servers on one database.
 */
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { keyFileLine } from "../../src/rpc/api-keys.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import {
  connectJsonStream,
  openStream,
  streamError,
  writeUntilDeliveredPlateaus,
} from "../support/entry-stream-client.js";
import { scrape } from "../support/prometheus.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, authorize } = LedgerService.method;
const USERS = ["ann", "bob", "cy", "dee", "eve", "fay"];

/** Writes `count` entries over several users, `parallel` calls at a time; returns their ids. */
async function writeEntries(client: GrpcTestClient, count: number, parallel = 8): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let done = 0; done < count; done += parallel) {
    const calls = Array.from({ length: Math.min(parallel, count - done) }, (_, index) => {
      const userId = USERS[(done + index) % USERS.length] ?? "ann";
      return (done + index) % 3 === 2
        ? client.unary(authorize, { userId, amount: 1n }).then((answer) => answer.entryId)
        : client.unary(load, { userId, amount: 10n }).then((answer) => answer.entryId);
    });
    ids.push(...(await Promise.all(calls)));
  }
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads the stream from `afterId` in short sessions, each cancelled after a few messages, until
 * `done()` says the writers finished and `lastId` was received. Returns every id received.
 */
async function consumeWithRestarts(
  client: GrpcTestClient,
  lastIdOf: () => bigint | undefined,
  filter: { userId?: string } = {},
): Promise<{ ids: bigint[]; sessions: number }> {
  const ids: bigint[] = [];
  let cursor = 0n;
  let sessions = 0;
  for (;;) {
    const lastId = lastIdOf();
    if (lastId !== undefined && cursor >= lastId) return { ids, sessions };
    sessions += 1;
    const take = 1 + (sessions % 7) * 3;
    const stream = openStream(client, { ...filter, start: { case: "afterEntryId", value: cursor } });
    // A session ends after `take` messages, or after a short wait when nothing more comes yet.
    await Promise.race([stream.until(take), new Promise((resolve) => setTimeout(resolve, 150))]);
    stream.call.cancel();
    await stream.ended.catch(() => undefined);
    for (const message of stream.received) {
      ids.push(message.entry?.id ?? -1n);
      expect(message.cursor).to.equal(message.entry?.id);
      cursor = message.cursor;
    }
  }
}

for (const store of STORE_KINDS)
  describe(`StreamEntries on ${store}`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      server = await startApp({ LEDGER_STREAM_POLL_INTERVAL_MS: "50" }, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    it("delivers every entry exactly once, in order, to a consumer cut and resumed many times under writes", async () => {
      await writeEntries(client, 30);
      let written: bigint[] | undefined;
      const writing = writeEntries(client, 600, 16).then((ids) => (written = ids));
      const { ids, sessions } = await consumeWithRestarts(client, () => written?.at(-1));
      await writing;
      expect(sessions).to.be.greaterThan(20);
      const all = [...(await ledgerEntryIds(client))];
      expect(ids).to.deep.equal(all);
    });

    it("filters one user (and one currency), and starts from now when no cursor is given", async () => {
      await writeEntries(client, 12);
      const fromNow = openStream(client, { userId: "ann", currency: "EUR" });
      await waitForSubscribers(server, 1);
      await client.unary(load, { userId: "bob", amount: 5n, currency: "EUR" });
      await client.unary(load, { userId: "ann", amount: 5n });
      const wanted = await client.unary(load, { userId: "ann", amount: 7n, currency: "EUR" });
      await fromNow.until(1);
      fromNow.call.cancel();
      expect(fromNow.received.map((message) => message.entry?.id)).to.deep.equal([wanted.entryId]);
      expect(fromNow.received[0]?.entry?.amount).to.equal(7n);

      const ann = openStream(client, { userId: "ann", start: { case: "afterEntryId", value: 0n }, maxEntries: 100n });
      await ann.until(4);
      ann.call.cancel();
      expect(ann.received.every((message) => message.entry?.userId === "ann")).to.equal(true);
    });

    it("ends OK after max_entries", async () => {
      const ids = await writeEntries(client, 10);
      const stream = openStream(client, { start: { case: "afterEntryId", value: ids[2] ?? 0n }, maxEntries: 3n });
      await stream.ended;
      expect(stream.received.map((message) => message.cursor)).to.deep.equal(ids.slice(3, 6));
    });

    it("refuses a cursor beyond the newest entry, a negative one and a bad user id with INVALID_ARGUMENT", async () => {
      const ids = await writeEntries(client, 3);
      const beyond = await streamError(client, { start: { case: "afterEntryId", value: (ids[2] ?? 0n) + 1000n } });
      expect(beyond.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(beyond.fieldViolations).to.deep.equal([{ field: "after_entry_id", reason: "UNKNOWN_CURSOR" }]);
      const negative = await streamError(client, { start: { case: "afterEntryId", value: -1n } });
      expect(negative.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(negative.fieldViolations[0]?.field).to.equal("after_entry_id");
      const badUser = await streamError(client, { userId: "no spaces" });
      expect(badUser.code).to.equal(grpc.status.INVALID_ARGUMENT);
    });

    it("throttles a paused consumer without buffering for it, and it resumes with nothing lost", async () => {
      const stream = openStream(client, { start: { case: "afterEntryId", value: 0n } });
      stream.call.pause();
      // Delivered = handed to the transport. Once its buffers and flow-control windows are full
      // the server reads no more for this consumer: more writes leave the figure where it is.
      const { ids, plateau } = await writeUntilDeliveredPlateaus(
        () => writeEntries(client, 1000, 50),
        async () => (await scrape(server.baseUrl)).value("ledger_stream_entries_delivered_total"),
      );
      expect(plateau).to.be.above(0);
      expect(plateau).to.be.below(ids.length);
      stream.call.resume();
      await stream.until(ids.length);
      stream.call.cancel();
      expect(stream.received.map((message) => message.cursor)).to.deep.equal(ids);
    });

    it("streams over Connect on HTTP/1.1 with JSON", async () => {
      const ids = await writeEntries(client, 5);
      const answer = await connectJsonStream(server.baseUrl, { afterEntryId: String(ids[0]), maxEntries: "2" });
      expect(answer.status).to.equal(200);
      expect(answer.messages.map((message) => message.cursor)).to.deep.equal([String(ids[1]), String(ids[2])]);
      expect((answer.messages[0]?.entry as { userId?: string }).userId).to.be.a("string");
      expect(answer.end).to.deep.equal({});
      const refused = await connectJsonStream(server.baseUrl, { afterEntryId: "-5" });
      expect((refused.end.error as { code?: string }).code).to.equal("invalid_argument");
    });

    it("ends open streams on shutdown with UNAVAILABLE and the cursor to resume from", async () => {
      const ids = await writeEntries(client, 4);
      const stream = openStream(client, { start: { case: "afterEntryId", value: 0n } });
      await stream.until(4);
      const stopping = server.app.shutdown();
      const error = await callError(stream.ended);
      await stopping;
      expect(error.code).to.equal(grpc.status.UNAVAILABLE);
      expect(error.metadata.cursor).to.equal(String(ids[3]));
    });
  });

describe("StreamEntries authentication", () => {
  it("needs an API key with the read scope", async () => {
    const reader = "reader-key-0123456789abcdef0123456789";
    const writer = "writer-key-0123456789abcdef0123456789";
    const server = await startApp({
      LEDGER_API_KEYS: `${keyFileLine("reader", ["read"], reader)};${keyFileLine("writer", ["write"], writer)}`,
    });
    const client = new GrpcTestClient(server.address);
    try {
      const bearer = (key: string) => {
        const metadata = new grpc.Metadata();
        metadata.set("authorization", `Bearer ${key}`);
        return metadata;
      };
      expect((await streamError(client, {})).code).to.equal(grpc.status.UNAUTHENTICATED);
      expect((await streamError(client, {}, bearer(writer))).code).to.equal(grpc.status.PERMISSION_DENIED);
      await client.unary(load, { userId: "ann", amount: 1n }, { metadata: bearer(writer) });
      const stream = openStream(
        client,
        { start: { case: "afterEntryId", value: 0n }, maxEntries: 1n },
        { metadata: bearer(reader) },
      );
      await stream.ended;
      expect(stream.received).to.have.length(1);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe("StreamEntries on PostgreSQL with two servers on one database", function () {
  this.timeout(120_000);

  it("a consumer on server B receives the writes made through server A with no gap", async () => {
    const first = await startApp({ LEDGER_STREAM_POLL_INTERVAL_MS: "20" }, "postgres");
    const second = await startApp({ LEDGER_DB: first.config.dbPath, LEDGER_STREAM_POLL_INTERVAL_MS: "20" }, "postgres");
    const writer = new GrpcTestClient(first.address);
    const reader = new GrpcTestClient(second.address);
    try {
      let written: bigint[] | undefined;
      // Many concurrent calls: the store runs several batches in flight, so ids commit out of order.
      const writing = writeEntries(writer, 800, 64).then((ids) => (written = ids));
      const { ids } = await consumeWithRestarts(reader, () => written?.at(-1));
      await writing;
      expect(ids).to.deep.equal(written);
    } finally {
      writer.close();
      reader.close();
      await second.stop();
      await first.stop();
    }
  });
});

/** Every entry id of the ledger, in order, read through ListEntries. */
async function ledgerEntryIds(client: GrpcTestClient): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (const userId of USERS) {
    let pageToken = "";
    do {
      const page = await client.unary(LedgerService.method.listEntries, { userId, pageToken, pageSize: 1000 });
      ids.push(...page.entries.map((entry) => entry.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function waitForSubscribers(server: TestApp, count: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if ((await scrape(server.baseUrl)).value("ledger_stream_subscribers") >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${count} stream subscribers`);
}

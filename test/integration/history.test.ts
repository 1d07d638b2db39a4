/**
 * ListEntries and GetEntry over native gRPC on each store: filters, both orders, every error
 * outcome, and pagination while a writer appends (the union of the pages is the ledger).
 */
import { expect } from "chai";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EntryKind, EntryOrder, EntryStatus, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const { load, authorize, adjustBalance, listEntries, getEntry } = LedgerService.method;

for (const store of STORE_KINDS)
  describe(`History (ListEntries, GetEntry) on ${store}`, () => {
    let server: TestApp;
    let client: GrpcTestClient;

    beforeEach(async () => {
      server = await startApp({}, store);
      client = new GrpcTestClient(server.address);
    });

    afterEach(async () => {
      client.close();
      await server.stop();
    });

    async function seed(): Promise<bigint[]> {
      const ids: bigint[] = [];
      ids.push((await client.unary(load, { userId: "ann", amount: 1000n, idempotencyKey: "k1" })).entryId);
      ids.push((await client.unary(authorize, { userId: "ann", amount: 300n })).entryId);
      ids.push((await client.unary(authorize, { userId: "ann", amount: 5000n })).entryId);
      ids.push((await client.unary(load, { userId: "ann", amount: 70n, currency: "EUR" })).entryId);
      ids.push((await client.unary(adjustBalance, { userId: "ann", amount: -20n })).entryId);
      await client.unary(load, { userId: "bob", amount: 1n });
      return ids;
    }

    it("lists a user's entries newest first with every field, and only that user's", async () => {
      const ids = await seed();
      const page = await client.unary(listEntries, { userId: "ann" });
      expect(page.entries.map((entry) => entry.id)).to.deep.equal([...ids].reverse());
      expect(page.nextPageToken).to.equal("");
      const first = page.entries.at(-1);
      expect(first?.kind).to.equal(EntryKind.LOAD);
      expect(first?.status).to.equal(EntryStatus.APPLIED);
      expect(first?.amount).to.equal(1000n);
      expect(first?.balanceAfter).to.equal(1000n);
      expect(first?.idempotencyKey).to.equal("k1");
      expect(first?.vendorId).to.equal("");
      expect(first?.currency).to.equal("USD");
      expect(Number(first?.createdAt?.seconds)).to.be.greaterThan(0);
      const declined = page.entries.find((entry) => entry.id === ids[2]);
      expect(declined?.status).to.equal(EntryStatus.DECLINED);
      expect(declined?.delta).to.equal(0n);
      expect(declined?.balanceAfter).to.equal(700n);
    });

    it("filters by currency and kind, and reads oldest first", async () => {
      const ids = await seed();
      const eur = await client.unary(listEntries, { userId: "ann", currency: "EUR" });
      expect(eur.entries.map((entry) => entry.id)).to.deep.equal([ids[3]]);
      const authorizations = await client.unary(listEntries, {
        userId: "ann",
        kinds: [EntryKind.AUTHORIZE, EntryKind.ADJUST],
        order: EntryOrder.OLDEST_FIRST,
      });
      expect(authorizations.entries.map((entry) => entry.id)).to.deep.equal([ids[1], ids[2], ids[4]]);
    });

    it("filters by recording time: start inclusive, end exclusive", async () => {
      const ids = await seed();
      const all = await client.unary(listEntries, { userId: "ann", order: EntryOrder.OLDEST_FIRST });
      const createdMs = all.entries.map(
        (entry) => Number(entry.createdAt?.seconds) * 1000 + (entry.createdAt?.nanos ?? 0) / 1e6,
      );
      const firstMs = createdMs[0] ?? 0;
      const lastMs = createdMs.at(-1) ?? 0;
      const none = await client.unary(listEntries, { userId: "ann", endTime: timestampFromMs(firstMs) });
      expect(none.entries).to.have.length(0);
      const after = await client.unary(listEntries, { userId: "ann", startTime: timestampFromMs(lastMs + 1) });
      expect(after.entries).to.have.length(0);
      const every = await client.unary(listEntries, {
        userId: "ann",
        startTime: timestampFromMs(firstMs),
        endTime: timestampFromMs(lastMs + 1),
      });
      expect(every.entries).to.have.length(ids.length);
    });

    it("pages with a token in both orders without gaps or repeats", async () => {
      const ids = await seed();
      for (const order of [EntryOrder.NEWEST_FIRST, EntryOrder.OLDEST_FIRST]) {
        const seen: bigint[] = [];
        let pageToken = "";
        do {
          const page = await client.unary(listEntries, { userId: "ann", order, pageSize: 2, pageToken });
          expect(page.entries.length).to.be.at.most(2);
          seen.push(...page.entries.map((entry) => entry.id));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        expect(seen).to.deep.equal(order === EntryOrder.OLDEST_FIRST ? ids : [...ids].reverse());
      }
    });

    it("keeps pages exact while a writer appends: the union of the pages is the ledger", async function () {
      this.timeout(60_000);
      const writes = 300;
      const writer = (async () => {
        for (let i = 0; i < writes; i += 1) {
          const currency = i % 3 === 0 ? "EUR" : "USD";
          await client.unary(load, { userId: "carol", amount: BigInt(i + 1), currency });
        }
      })();
      const readAll = async (order: EntryOrder): Promise<bigint[]> => {
        const seen: bigint[] = [];
        let pageToken = "";
        do {
          const page = await client.unary(listEntries, { userId: "carol", order, pageSize: 3, pageToken });
          seen.push(...page.entries.map((entry) => entry.id));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        return seen;
      };
      // Let the writer get going, so that both readers page while it appends.
      while ((await client.unary(listEntries, { userId: "carol" })).entries.length < 10) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const [oldestFirst, newestFirst] = await Promise.all([
        readAll(EntryOrder.OLDEST_FIRST),
        readAll(EntryOrder.NEWEST_FIRST),
      ]);
      await writer;
      const ledger = (
        await client.unary(listEntries, { userId: "carol", order: EntryOrder.OLDEST_FIRST, pageSize: 1000 })
      ).entries.map((entry) => entry.id);
      expect(ledger).to.have.length(writes);
      // Oldest first: every entry up to the last one seen, once, in order (later ones came after).
      const lastSeen = oldestFirst.at(-1) ?? 0n;
      expect(oldestFirst).to.deep.equal(ledger.filter((id) => id <= lastSeen));
      // Newest first: every entry from the first one seen down, once; newer ones were written after.
      const firstSeen = newestFirst[0] ?? 0n;
      expect(newestFirst).to.deep.equal(ledger.filter((id) => id <= firstSeen).reverse());
      expect(newestFirst.length).to.be.at.least(10);
      expect(newestFirst.length).to.be.lessThan(writes);
    });

    it("gets one entry by id, and NOT_FOUND for an unknown id", async () => {
      const ids = await seed();
      const response = await client.unary(getEntry, { entryId: ids[1] ?? 0n });
      expect(response.entry?.kind).to.equal(EntryKind.AUTHORIZE);
      expect(response.entry?.balanceAfter).to.equal(700n);
      const missing = await callError(client.unary(getEntry, { entryId: 999_999n }));
      expect(missing.code).to.equal(grpc.status.NOT_FOUND);
      expect(missing.reason).to.equal("ENTRY_NOT_FOUND");
      expect(missing.metadata.entry_id).to.equal("999999");
    });

    it("rejects bad input with INVALID_ARGUMENT and the field", async () => {
      const cases: {
        request: Parameters<typeof client.unary<typeof listEntries.input, typeof listEntries.output>>[1];
        field: string;
      }[] = [
        { request: { userId: "" }, field: "user_id" },
        { request: { userId: "ann", currency: "usd" }, field: "currency" },
        { request: { userId: "ann", pageSize: -1 }, field: "page_size" },
        { request: { userId: "ann", pageToken: "not-a-token" }, field: "page_token" },
        { request: { userId: "ann", kinds: [99 as EntryKind] }, field: "kinds" },
        {
          request: { userId: "ann", startTime: timestampFromMs(2000), endTime: timestampFromMs(1000) },
          field: "end_time",
        },
      ];
      for (const { request, field } of cases) {
        const error = await callError(client.unary(listEntries, request));
        expect(error.code, field).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(error.fieldViolations.map((violation) => violation.field)).to.include(field);
      }
      // A token issued for one order is refused for the other.
      await seed();
      const page = await client.unary(listEntries, { userId: "ann", pageSize: 1 });
      const swapped = await callError(
        client.unary(listEntries, { userId: "ann", order: EntryOrder.OLDEST_FIRST, pageToken: page.nextPageToken }),
      );
      expect(swapped.fieldViolations.map((violation) => violation.field)).to.deep.equal(["page_token"]);
      const zero = await callError(client.unary(getEntry, { entryId: 0n }));
      expect(zero.code).to.equal(grpc.status.INVALID_ARGUMENT);
    });

    it("answers an empty page for a user without entries", async () => {
      const page = await client.unary(listEntries, { userId: "nobody" });
      expect(page.entries).to.have.length(0);
      expect(page.nextPageToken).to.equal("");
    });
  });

/**
 * `npm run export` as an operator runs it, beside a live service, on each store: every entry
 * once, in id order, in NDJSON and in CSV (quoting included), filtered by user and time, across
 * more than one page; bad flags exit 2 with a usage line.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { EntryOrder, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { GrpcTestClient } from "../support/grpc-client.js";
import { startApp, type TestApp } from "../support/app.js";
import { STORE_KINDS } from "../support/stores.js";

const run = promisify(execFile);
const { load, authorize, listEntries } = LedgerService.method;

async function exportEntries(db: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", "export", "--", ...args], {
      env: { ...process.env, LEDGER_DB: db, LEDGER_LOG_LEVEL: "silent" },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

for (const store of STORE_KINDS)
  describe(`npm run export on ${store}`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;

    before(async () => {
      server = await startApp({}, store);
      client = new GrpcTestClient(server.address);
      // More than one export page (1,000 entries), over two users.
      for (let i = 0; i < 1100; i += 1) {
        await client.unary(load, { userId: i % 2 === 0 ? "even" : "odd", amount: BigInt(i + 1) });
      }
      await client.unary(authorize, { userId: "odd", amount: 7n, idempotencyKey: 'k,"quoted"' });
    });

    after(async () => {
      client.close();
      await server.stop();
    });

    it("writes every entry once, in id order, as NDJSON with exact amounts", async () => {
      const { code, stdout } = await exportEntries(server.config.dbPath, []);
      expect(code).to.equal(0);
      const lines = stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, string>);
      expect(lines).to.have.length(1101);
      expect(lines.map((line) => BigInt(line.id ?? "0"))).to.deep.equal(lines.map((_, index) => BigInt(index + 1)));
      expect(lines[0]).to.include({ user_id: "even", kind: "load", amount: "1", balance_after: "1", currency: "USD" });
      expect(lines.at(-1)).to.include({ kind: "authorize", amount: "7", delta: "-7", idempotency_key: 'k,"quoted"' });
    });

    it("filters by user and by time range, and writes CSV with quoting", async () => {
      const odd = await client.unary(listEntries, { userId: "odd", order: EntryOrder.OLDEST_FIRST, pageSize: 1000 });
      const times = odd.entries.map((entry) => timestampMs(entry.createdAt ?? timestampFromMs(0)));
      const fromMs = times[100] ?? 0;
      const toMs = times.at(-1) ?? 0;
      const { code, stdout } = await exportEntries(server.config.dbPath, [
        "--user",
        "odd",
        "--from",
        new Date(fromMs).toISOString(),
        "--to",
        String(toMs + 1),
        "--format",
        "csv",
      ]);
      expect(code).to.equal(0);
      const lines = stdout.trimEnd().split("\n");
      expect(lines[0]).to.equal(
        "id,user_id,currency,kind,status,amount,delta,balance_after,idempotency_key,vendor_id,occurred_at,created_at",
      );
      const expected = odd.entries.filter((entry) => {
        const atMs = timestampMs(entry.createdAt ?? timestampFromMs(0));
        return atMs >= fromMs && atMs <= toMs;
      });
      expect(lines.slice(1).map((line) => line.split(",")[0])).to.deep.equal(expected.map((entry) => String(entry.id)));
      expect(lines.every((line, index) => index === 0 || line.split(",")[1] === "odd")).to.equal(true);
      expect(lines.at(-1)).to.contain(',"k,""quoted""",');
    });

    it("refuses bad flags with exit code 2 and a usage line", async () => {
      for (const args of [["--format", "xml"], ["--from", "yesterday"], ["--user", "a b"], ["--nope"]]) {
        const { code, stderr, stdout } = await exportEntries(server.config.dbPath, args);
        expect(code, args.join(" ")).to.equal(2);
        expect(stderr).to.contain("usage: npm run export");
        expect(stdout).to.equal("");
      }
    });
  });

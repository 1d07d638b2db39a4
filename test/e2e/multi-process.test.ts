/**
 * Several service processes over one PostgreSQL database: every invariant must hold across
 * them, since each process only knows what the database tells it.
 *
 * - the wallet scenario spread over 3 processes ends exactly 5,000 OK / 5,000 refused, balance 0;
 * - one idempotency key sent to two processes at once is applied once, and both callers get
 *   the same entry;
 * - SIGKILL of one of two processes under load loses nothing that was acknowledged;
 * - LEDGER_WORKERS=2 starts two workers on one port and stops them all on SIGTERM.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { ChildServer, freePort } from "../support/child-server.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger, keyOf } from "../support/ledger-audit.js";
import { freshPostgresUrl } from "../support/stores.js";

const { load, adjustBalance, getBalance } = LedgerService.method;

async function startServers(count: number, env: Record<string, string>): Promise<ChildServer[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => new ChildServer(await freePort(), env)));
  // Started together: their migrations race on knex's lock, as replicas starting at once would.
  await Promise.all(servers.map((server) => server.start()));
  return servers;
}

const outcomeOf = (error: unknown): string =>
  error instanceof GrpcCallError ? `${grpc.status[error.code]}/${error.reason ?? ""}` : String(error);

describe("several service processes over one PostgreSQL database", function () {
  this.timeout(180_000);
  let servers: ChildServer[] = [];
  let clients: GrpcTestClient[] = [];
  let database: string;

  beforeEach(async () => {
    database = await freshPostgresUrl();
  });

  afterEach(async () => {
    for (const client of clients) client.close();
    for (const server of servers) await server.kill();
    clients = [];
    servers = [];
  });

  it("serves the contract from one process started with a postgres:// URL: reflection, gRPC, Connect JSON", async () => {
    servers = await startServers(1, { LEDGER_DB: database });
    const [server] = servers;
    if (server === undefined) throw new Error("no server");
    clients = [new GrpcTestClient(server.address)];
    const [client] = clients;
    if (client === undefined) throw new Error("no client");
    // What `grpcurl -plaintext host:port list` asks.
    const [listing] = await client.bidi(ServerReflection.method.serverReflectionInfo, [
      { messageRequest: { case: "listServices", value: "" } },
    ]);
    const names =
      listing?.messageResponse.case === "listServicesResponse"
        ? listing.messageResponse.value.service.map((entry) => entry.name)
        : [];
    expect(names).to.include.members(["ledger.v1.LedgerService", "grpc.health.v1.Health"]);
    const loaded = await client.unary(load, { userId: "pg-user", amount: 1000n, idempotencyKey: "pg-1" });
    expect(loaded.balanceAfter).to.equal(1000n);
    // What the README's curl lines send.
    const post = (method: string, body: object) =>
      fetch(`http://${server.address}/ledger.v1.LedgerService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const adjusted = await post("AdjustBalance", { userId: "pg-user", amount: "-100", idempotencyKey: "pg-2" });
    expect(adjusted.status).to.equal(200);
    expect(await adjusted.json()).to.include({ balanceAfter: "900", replayed: false });
    const refused = await post("AdjustBalance", { userId: "pg-user", amount: "-100000" });
    expect(refused.status).to.equal(400);
    expect(await refused.json()).to.include({ code: "failed_precondition" });
    const balance = (await (await post("GetBalance", { userId: "pg-user" })).json()) as {
      balances: { balance: string }[];
    };
    expect(balance.balances[0]?.balance).to.equal("900");
    const snapshot = await auditLedger(database);
    expect(snapshot.report.mismatches).to.deep.equal([]);
    expect(snapshot.report.entriesChecked).to.equal(2);
  });

  it("keeps the wallet exact over 3 processes: 5,000 OK, 5,000 INSUFFICIENT_FUNDS, balance 0", async () => {
    servers = await startServers(3, { LEDGER_DB: database });
    clients = servers.flatMap((server) =>
      [0, 1].map(() => new GrpcTestClient(server.address, { "grpc.use_local_subchannel_pool": 1 })),
    );
    const [first] = clients;
    if (first === undefined) throw new Error("no client");
    await first.unary(load, { userId: "wallet-user", amount: 10_000n });
    const outcomes = await Promise.all(
      Array.from({ length: 10_000 }, (_, index) =>
        (clients[index % clients.length] ?? first)
          .unary(adjustBalance, { userId: "wallet-user", amount: -2n })
          .then(() => "OK", outcomeOf),
      ),
    );
    const histogram: Record<string, number> = {};
    for (const outcome of outcomes) histogram[outcome] = (histogram[outcome] ?? 0) + 1;
    expect(histogram).to.deep.equal({ OK: 5000, "FAILED_PRECONDITION/INSUFFICIENT_FUNDS": 5000 });
    const balances = await Promise.all(
      clients.map(async (client) => (await client.unary(getBalance, { userId: "wallet-user" })).balances[0]?.balance),
    );
    expect(new Set(balances)).to.deep.equal(new Set([0n]));
    const snapshot = await auditLedger(database);
    expect(snapshot.report.mismatches).to.deep.equal([]);
    expect(snapshot.report.entriesChecked).to.equal(5001);
  });

  it("applies a key raced on two processes once, and answers both callers with the same entry", async () => {
    servers = await startServers(2, { LEDGER_DB: database });
    clients = servers.map((server) => new GrpcTestClient(server.address));
    const keys = Array.from({ length: 200 }, (_, index) => `race-${index}`);
    const answers = await Promise.all(
      keys.map((key) =>
        Promise.all(
          clients.map((client) =>
            client.unary(load, { userId: `racer-${key.length % 3}`, amount: 7n, idempotencyKey: key }),
          ),
        ),
      ),
    );
    for (const [index, pair] of answers.entries()) {
      const [a, b] = pair;
      expect(a?.entryId, keys[index]).to.equal(b?.entryId);
      expect([a?.replayed, b?.replayed].sort(), keys[index]).to.deep.equal([false, true]);
    }
    const snapshot = await auditLedger(database);
    expect(snapshot.report.mismatches).to.deep.equal([]);
    expect(snapshot.report.entriesChecked).to.equal(keys.length);
  });

  it("loses nothing acknowledged when one of two processes is killed mid-load", async () => {
    servers = await startServers(2, { LEDGER_DB: database });
    clients = servers.map((server) => new GrpcTestClient(server.address));
    const acknowledged = new Map<string, bigint>();
    let sent = 0;
    let stop = false;
    const drive = async (client: GrpcTestClient, lane: string) => {
      while (!stop) {
        const number = (sent += 1);
        const key = `${lane}-${number}`;
        const userId = `user-${number % 5}`;
        try {
          const answer = await client.unary(load, { userId, amount: 3n, idempotencyKey: key });
          acknowledged.set(keyOf(userId, key), answer.entryId);
        } catch {
          // The killed process's calls fail; their outcome is unknown and not counted.
        }
      }
    };
    const lanes = clients.flatMap((client, index) =>
      Array.from({ length: 8 }, (_, lane) => drive(client, `p${index}l${lane}`)),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await servers[0]?.kill();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop = true;
    await Promise.all(lanes);
    const snapshot = await auditLedger(database);
    expect(snapshot.report.mismatches).to.deep.equal([]);
    expect(acknowledged.size).to.be.greaterThan(100);
    for (const [key, entryId] of acknowledged) expect(snapshot.entriesByKey.get(key)?.id, key).to.equal(entryId);
  });

  it("starts LEDGER_WORKERS=2 processes on one port, serves, and stops them all on SIGTERM", async () => {
    const port = await freePort();
    const server = new ChildServer(port, { LEDGER_DB: database, LEDGER_WORKERS: "2" });
    servers = [server];
    await server.start();
    clients = [new GrpcTestClient(server.address)];
    const answer = await clients[0]!.unary(load, { userId: "w", amount: 5n });
    expect(answer.balanceAfter).to.equal(5n);
    const workers = spawnSync("pgrep", ["-P", String(server.pid)], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .filter(Boolean);
    expect(workers).to.have.length(2);
    expect(await server.stop()).to.equal(0);
  });

  it("refuses LEDGER_WORKERS above 1 on SQLite with a clear message", () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-workers-"));
    try {
      const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env: { ...process.env, LEDGER_DB: join(dir, "ledger.db"), LEDGER_WORKERS: "2", LEDGER_PORT: "0" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(result.status).to.equal(2);
      expect(result.stderr).to.match(/LEDGER_WORKERS above 1 needs PostgreSQL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

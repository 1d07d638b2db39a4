/**
 * A commit that fails at COMMIT: the outcome of the batch is unknown (an fsync that failed may
 * still have left the commit in the WAL for recovery to replay), so callers are told to retry with
 * the same key, never that nothing was applied, and the service stops taking writes and asks its
 * supervisor to restart it (fail-stop).
 *
 * The fault is a real I/O error where this machine allows it: the WAL file made immutable
 * (chattr +i, root on ext4), so SQLite's write of the commit's frames fails with SQLITE_IOERR.
 * Elsewhere it is a deferred foreign-key violation that only COMMIT checks: a failure at the same
 * step, with another code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { readConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { build, type App } from "../../src/server.js";
import { ChildServer, freePort } from "../support/child-server.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { sqliteConnection } from "../support/sqlite-internals.js";

const { load, getBalance } = LedgerService.method;

/** Whether this machine lets a test make a file immutable (root, and a filesystem with the flag). */
function canMakeImmutable(): boolean {
  const dir = mkdtempSync(join(tmpdir(), "ledger-chattr-"));
  try {
    const file = join(dir, "probe");
    writeFileSync(file, "x");
    const undo = makeWalImmutable(file);
    undo?.();
    return undo !== undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function makeWalImmutable(walPath: string): (() => void) | undefined {
  if (!existsSync(walPath)) return undefined;
  const set = spawnSync("chattr", ["+i", walPath], { encoding: "utf8" });
  return set.status === 0 ? () => void spawnSync("chattr", ["-i", walPath]) : undefined;
}

describe("a commit that fails at COMMIT stops the service (fail-stop)", function () {
  this.timeout(60_000);
  let dir: string;
  let app: App;
  let client: GrpcTestClient;
  let failStops: unknown[];
  let undoFault: (() => void) | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-commit-"));
    const config = readConfig({ LEDGER_PORT: "0", LEDGER_DB: join(dir, "ledger.db"), LEDGER_LOG_LEVEL: "silent" });
    failStops = [];
    app = await build(config, createLogger("silent"), { onFailStop: (error) => failStops.push(error) });
    const { port } = await app.listen();
    client = new GrpcTestClient(`127.0.0.1:${port}`);
  });

  afterEach(async () => {
    undoFault?.();
    undoFault = undefined;
    client.close();
    await app.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  function injectCommitFault(): string {
    undoFault = makeWalImmutable(join(dir, "ledger.db-wal"));
    if (undoFault !== undefined) return "SQLITE_IOERR";
    const db = sqliteConnection(app.store);
    db.pragma("foreign_keys = ON");
    db.exec(`CREATE TABLE doom_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE doom_child (parent INTEGER REFERENCES doom_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER doom AFTER INSERT ON entries BEGIN INSERT INTO doom_child VALUES (42); END;`);
    return "SQLITE_CONSTRAINT";
  }

  it("answers UNAVAILABLE / OUTCOME_UNKNOWN telling callers to retry with the same key, and refuses later writes", async () => {
    await client.unary(load, { userId: "before", amount: 1n, idempotencyKey: "k0" });
    const code = injectCommitFault();
    console.log(
      `      commit fault: ${code === "SQLITE_IOERR" ? "WAL made immutable (SQLITE_IOERR)" : "deferred foreign key (SQLITE_CONSTRAINT)"}`,
    );
    const batch = await Promise.all([
      callError(client.unary(load, { userId: "a", amount: 5n, idempotencyKey: "k1" })),
      callError(client.unary(load, { userId: "b", amount: 6n, idempotencyKey: "k2" })),
    ]);
    for (const error of batch) {
      expect(error.code, code).to.equal(grpc.status.UNAVAILABLE);
      expect(error.reason).to.equal("OUTCOME_UNKNOWN");
      expect(error.message)
        .to.match(/unknown/)
        .and.to.match(/same idempotency key/)
        .and.not.to.match(/not applied/);
    }
    expect(failStops).to.have.length(1);
    undoFault?.();
    undoFault = undefined;
    // Fail-stop: no more writes from this process, whatever the disk does now.
    const later = await callError(client.unary(load, { userId: "c", amount: 7n, idempotencyKey: "k3" }));
    expect(later.code).to.equal(grpc.status.UNAVAILABLE);
    expect(later.message).to.match(/same idempotency key/);
    expect(failStops).to.have.length(1);
    // Reads still answer, from what was committed before the failure.
    expect((await client.unary(getBalance, { userId: "before" })).balances[0]?.balance).to.equal(1n);
  });
});

// The service process itself: where a real I/O error can be made (as the disk-full test does with
// tmpfs), the whole path runs, from the failed fsync-time write to the exit for the supervisor.
if (canMakeImmutable()) {
  describe("the service process after a real I/O error at COMMIT", function () {
    this.timeout(60_000);

    it("answers OUTCOME_UNKNOWN, then exits with status 75 for its supervisor; a restart serves again", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ledger-commit-child-"));
      const dbPath = join(dir, "ledger.db");
      const server = new ChildServer(await freePort(), { LEDGER_DB: dbPath });
      let undo: (() => void) | undefined;
      try {
        await server.start();
        const client = new GrpcTestClient(server.address);
        await client.unary(load, { userId: "before", amount: 1n, idempotencyKey: "k0" });
        undo = makeWalImmutable(`${dbPath}-wal`);
        const error = await callError(client.unary(load, { userId: "a", amount: 5n, idempotencyKey: "k1" }));
        client.close();
        expect(error.reason).to.equal("OUTCOME_UNKNOWN");
        expect(await server.waitForExit(20_000)).to.equal(75);
        expect(server.lastStderr + "").to.not.include("invariant broken");
        undo?.();
        undo = undefined;
        await server.start();
        const again = new GrpcTestClient(server.address);
        const retry = await again.unary(load, { userId: "a", amount: 5n, idempotencyKey: "k1" });
        again.close();
        // Whichever way recovery decided, the retry with the same key settles it exactly once.
        expect(retry.balanceAfter).to.equal(5n);
      } finally {
        undo?.();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

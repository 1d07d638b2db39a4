/**
 * The operator commands as a user runs them: `npm run seed` twice (idempotent), `npm run verify`
 * clean, then a tampered cache that verify must catch with a non-zero exit; on SQLite and on
 * PostgreSQL, whose append-only triggers are checked too.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import Database from "better-sqlite3";
import pg from "pg";
import { freshPostgresUrl } from "../support/stores.js";

const run = promisify(execFile);

async function npmRun(script: string, dbPath: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", script], { env: { ...process.env, LEDGER_DB: dbPath } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("seed and verify commands", () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ledger-cli-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("seeds once, verifies clean, and catches a tampered balance", async () => {
    const dbPath = join(dir, "ledger.db");
    const first = await npmRun("seed", dbPath);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain("seeded wallet-user: 10000 USD");
    const second = await npmRun("seed", dbPath);
    expect(second.stdout).to.contain("already seeded wallet-user: 10000 USD");

    const clean = await npmRun("verify", dbPath);
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(/verified 5 entries and 5 accounts .*: OK/);

    const db = new Database(dbPath);
    db.prepare("UPDATE accounts SET balance = balance + 1 WHERE user_id = 'bob'").run();
    db.close();
    const tampered = await npmRun("verify", dbPath);
    expect(tampered.code).to.equal(1);
    expect(tampered.stderr).to.contain("MISMATCH bob USD: balance is 1501, entries sum to 1500");
  });

  it("refuses to rewrite history: entries cannot be updated or deleted", () => {
    const db = new Database(join(dir, "ledger.db"));
    try {
      expect(() => db.prepare("UPDATE entries SET amount = 0").run()).to.throw(/append-only/);
      expect(() => db.prepare("DELETE FROM entries").run()).to.throw(/append-only/);
    } finally {
      db.close();
    }
  });

  describe("on PostgreSQL", () => {
    let url: string;

    before(async () => {
      url = await freshPostgresUrl();
    });

    it("seeds once, verifies clean, and catches a tampered balance", async () => {
      const first = await npmRun("seed", url);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.contain("seeded wallet-user: 10000 USD");
      const second = await npmRun("seed", url);
      expect(second.stdout).to.contain("already seeded wallet-user: 10000 USD");
      const clean = await npmRun("verify", url);
      expect(clean.code, clean.stderr).to.equal(0);
      expect(clean.stdout).to.match(/verified 5 entries and 5 accounts .*: OK/);
      // The password never reaches the output.
      expect(clean.stdout)
        .to.contain(":***@")
        .and.not.contain(`:${new URL(url).password}@`);

      await withClient(url, (client) =>
        client.query("UPDATE accounts SET balance = balance + 1 WHERE user_id = 'bob'"),
      );
      const tampered = await npmRun("verify", url);
      expect(tampered.code).to.equal(1);
      expect(tampered.stderr).to.contain("MISMATCH bob USD: balance is 1501, entries sum to 1500");
    });

    it("refuses to rewrite history: entries cannot be updated, deleted or truncated", async () => {
      for (const sql of ["UPDATE entries SET amount = 0", "DELETE FROM entries", "TRUNCATE entries"]) {
        let refused: unknown;
        await withClient(url, (client) => client.query(sql)).catch((error: unknown) => (refused = error));
        expect(String(refused), sql).to.match(/append-only/);
      }
    });
  });
});

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * A broken invariant in the write path stops the process loudly (a fatal line, exit status 70)
 * instead of being answered as INTERNAL, or worse as success, and carried on. Each case runs in
 * a child process, since stopping the process is the behaviour under test.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";

const SRC = resolve("src");
const TEST = resolve("test");

function runScript(body: string): { status: number | null; stderr: string; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-assert-"));
  try {
    const script = join(dir, "script.mts");
    writeFileSync(script, body.replaceAll("@src", SRC).replaceAll("@test", TEST).replaceAll("@dir", dir));
    const run = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 30_000 });
    return { status: run.status, stderr: run.stderr, stdout: run.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("assertions stop the process on a broken invariant", function () {
  this.timeout(60_000);

  it("assert(false) logs a fatal JSON line naming the invariant and exits 70", () => {
    const run = runScript(
      `import { assert } from "@src/assert.ts";\nassert(1 + 1 === 3, "arithmetic holds");\nconsole.log("carried on");`,
    );
    expect(run.status).to.equal(70);
    expect(run.stdout).to.not.include("carried on");
    const line = JSON.parse(run.stderr.trim().split("\n").at(-1) ?? "{}") as { level?: number; msg?: string };
    expect(line).to.include({ level: 60 });
    expect(line.msg).to.include("arithmetic holds");
  });

  it("a write batch that finds a transaction already open stops rather than committing into it", () => {
    const run = runScript(`
      import { openSqliteStore } from "@src/store/sqlite/index.ts";
      import { decideLoad } from "@src/domain/rules.ts";
      import { sqliteConnection } from "@test/support/sqlite-internals.ts";
      const store = await openSqliteStore({ filename: "@dir/ledger.db", durability: "full", batchSizeMax: 10, queueDepthMax: 10, busyTimeoutMs: 100 });
      // A bug elsewhere left a transaction open on the writing connection.
      sqliteConnection(store).exec("BEGIN");
      const result = await store.mutate({ account: { userId: "u", currency: "USD" }, idempotencyKey: null, decide: decideLoad(5n) });
      console.log("acknowledged", result.type);`);
    expect(run.status, run.stderr).to.equal(70);
    expect(run.stdout).to.not.include("acknowledged");
    expect(run.stderr).to.include("a batch starts with no transaction open");
  });

  it("a fold given an entry whose delta contradicts its kind stops", () => {
    const run = runScript(`
      import { applyNewEntry } from "@src/domain/account.ts";
      applyNewEntry(undefined, { kind: "load", status: "applied", amount: 5n, delta: 7n }, 0);
      console.log("folded");`);
    expect(run.status).to.equal(70);
    expect(run.stdout).to.not.include("folded");
    expect(run.stderr).to.include("has delta 7");
  });
});

/**
 * Regression test for the Node 24 abort: better-sqlite3 12 crashed the process (SIGABRT in
 * `Statement`/`StatementIterator` destructors) when the garbage collector finalised them on
 * Node 24.19 and newer. CI runs the suite on Node 22 and 24, so this runs on both.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe(`better-sqlite3 finalisers under forced garbage collection (Node ${process.version})`, function () {
  this.timeout(120_000);

  it("keeps the service alive while dropped statements and iterators are collected", () => {
    const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "test/support/gc-stress-child.ts"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 110_000,
    });
    expect(child.signal, `the process died: ${child.stderr.slice(-2000)}`).to.equal(null);
    expect(child.status, child.stderr.slice(-2000)).to.equal(0);
    const report = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as {
      node: string;
      served: number;
      balanceOfGc0: string;
    };
    expect(report.node).to.equal(process.version);
    expect(report.served).to.equal(80 * 20);
    // 4 users share the 1,600 loads of 1 evenly.
    expect(report.balanceOfGc0).to.equal("400");
  });
});

/**
 * The fake vendor is a test and demo tool: it lives in tools/, out of what `npm run build` puts
 * in dist, and its npm script still works; `npm run ingest` is a command among the others in
 * src/cli/.
 */
import { spawnSync } from "node:child_process";
import { expect } from "chai";

describe("tools apart from the product", function () {
  this.timeout(60_000);

  it("builds no fake vendor, test or bench file into dist", () => {
    const listed = spawnSync(
      process.execPath,
      ["node_modules/typescript/bin/tsc", "--listFilesOnly", "-p", "tsconfig.build.json"],
      { encoding: "utf8" },
    );
    expect(listed.status, listed.stderr).to.equal(0);
    const ours = listed.stdout
      .split("\n")
      .filter((file) => file.startsWith(process.cwd()) && !file.includes("node_modules"));
    expect(ours.some((file) => file.includes("/src/cli/ingest.ts"))).to.equal(true);
    expect(ours.filter((file) => /fake-vendor|\/tools\/|\/test\/|\/bench\//.test(file))).to.deep.equal([]);
  });

  it("npm run vendor:fake and npm run ingest still start", () => {
    const help = spawnSync(process.execPath, ["--import", "tsx", "tools/fake-vendor/main.ts", "--help"], {
      encoding: "utf8",
    });
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.include("Fake vendor. Flags");
    const ingest = spawnSync(process.execPath, ["--import", "tsx", "src/cli/ingest.ts"], {
      encoding: "utf8",
      env: { ...process.env, LEDGER_VENDOR_URL: "" },
    });
    expect(ingest.status).to.equal(2);
    expect(ingest.stderr).to.include("LEDGER_VENDOR_URL is not set");
    const scripts = (
      JSON.parse(spawnSync("cat", ["package.json"], { encoding: "utf8" }).stdout) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts).to.include({ "vendor:fake": "tsx tools/fake-vendor/main.ts", ingest: "tsx src/cli/ingest.ts" });
  });
});

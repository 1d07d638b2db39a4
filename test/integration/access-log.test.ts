/**
 * The access log is buffered and written asynchronously (src/logger.ts), so these tests prove
 * that no buffered line is lost when the process ends, normally or by a crash, and that the
 * lines keep their shape and their redaction.
 */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const CHILD = fileURLToPath(new URL("../support/log-child.ts", import.meta.url));
const CALLS = 5000;

function runChild(ending: "exit" | "crash"): { status: number | null; lines: Record<string, unknown>[] } {
  const result = spawnSync(process.execPath, ["--import", "tsx", CHILD, ending, String(CALLS)], { encoding: "utf8" });
  const lines = result.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { status: result.status, lines };
}

describe("access log", () => {
  it("writes one line per call and loses none at a normal exit", () => {
    const { status, lines } = runChild("exit");
    expect(status).to.equal(0);
    const calls = lines.filter((line) => line.msg === "call");
    expect(calls).to.have.length(CALLS);
    expect(calls[0]).to.include({
      level: 30,
      service: "ledger",
      method: "ledger.v1.LedgerService/Load",
      code: "OK",
      msg: "call",
    });
    expect(calls[0]?.durationMs).to.be.a("number");
    expect(calls[0]?.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines.at(-1)).to.include({ msg: "last line before the end", token: "[redacted]" });
  });

  it("writes a quiet service's lines within a second, not when the buffer fills or at exit", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, "linger", "1"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      let output = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => (output += chunk));
      // Two lines are far below the write threshold; they must still leave while the process runs.
      const deadline = Date.now() + 20_000;
      while (!output.includes("last line before the end") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const seenAt = Date.now();
      const lines = output.split("\n").filter((line) => line.length > 0);
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).to.deep.equal([
        "call",
        "last line before the end",
      ]);
      // Measured from the child's own clock: its start-up under tsx can take seconds on a busy machine.
      const written = Date.parse((JSON.parse(lines[1] ?? "{}") as { time: string }).time);
      expect(seenAt - written).to.be.below(1000);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("flushes every buffered line and logs the crash when an exception escapes", () => {
    const { status, lines } = runChild("crash");
    expect(status).to.equal(1);
    expect(lines.filter((line) => line.msg === "call")).to.have.length(CALLS);
    expect(lines.some((line) => line.msg === "last line before the end")).to.equal(true);
    const crash = lines.at(-1);
    expect(crash).to.include({ level: 60, msg: "crashed" });
    expect(JSON.stringify(crash)).to.contain("a programmer's bug");
  });
});

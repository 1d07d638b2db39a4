/**
 * The access line formatted straight into the log sink (src/logger.ts `accessLineWriter`) is what
 * pino writes for the same call through a child logger, byte for byte bar the timestamp, and the
 * logger's level governs it as it governs pino's lines.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { AccessLog, methodName } from "../../src/rpc/access-log.js";

function linesOf(level: string, write: (logger: Logger) => void): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "access-line-"));
  const file = path.join(dir, "out.log");
  const fd = fs.openSync(file, "w");
  const logger = createLogger(level, fd);
  write(logger);
  return new Promise((resolve) =>
    logger.flush(() => {
      fs.closeSync(fd);
      const text = fs.readFileSync(file, "utf8");
      fs.rmSync(dir, { recursive: true, force: true });
      resolve(text.split("\n").filter((line) => line.length > 0));
    }),
  );
}

const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

describe("access line (unit)", () => {
  const { adjustBalance } = LedgerService.method;

  it("is what pino writes for the same call, in the order the lines were logged", async () => {
    const calls: [string, number][] = [
      ["OK", 0.8],
      ["FAILED_PRECONDITION", 12.345],
      ["INVALID_ARGUMENT", 0],
    ];
    const lines = await linesOf("info", (logger) => {
      const line = new AccessLog(logger).of(LedgerService, adjustBalance);
      const child = logger.child({ method: methodName(LedgerService, adjustBalance) }, { redact: { paths: [] } });
      for (const [code, durationMs] of calls) {
        line(code, durationMs);
        child.info({ code, durationMs }, "call");
      }
    });
    expect(lines).to.have.length(6);
    for (let index = 0; index < 6; index += 2) {
      expect(withoutTime(lines[index] ?? "")).to.equal(withoutTime(lines[index + 1] ?? ""));
      expect(JSON.parse(lines[index] ?? "")).to.include({ method: "ledger.v1.LedgerService/AdjustBalance" });
    }
    expect(lines[0]).to.match(/^\{"level":30,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","service":"ledger",/);
  });

  it("writes nothing below the logger's level", async () => {
    const lines = await linesOf("warn", (logger) => {
      new AccessLog(logger).of(LedgerService, adjustBalance)("OK", 1);
      logger.warn("a warning");
    });
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).to.deep.equal(["a warning"]);
  });
});

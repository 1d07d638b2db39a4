/**
 * The log sink (src/log-sink.ts) on real file descriptors: lines leave whole and in order, a line
 * longer than a chunk included; a stdout that stops taking lines (a full pipe answering EAGAIN)
 * costs at most LOG_BUFFER_MAX_BYTES, after which lines are dropped and counted; and the lines
 * kept are written once the reader comes back.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { LOG_BUFFER_MAX_BYTES, LogSink } from "../../src/log-sink.js";

const line = (index: number, pad = 0) => `{"n":${index},"pad":"${"x".repeat(pad)}"}\n`;
const flushed = (sink: LogSink) => new Promise<void>((resolve) => sink.flush(resolve));

describe("LogSink (unit)", () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "log-sink-"));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes every line whole and in order, a line longer than a chunk included", async () => {
    const file = path.join(dir, "out.log");
    const fd = fs.openSync(file, "w");
    const sink = new LogSink(fd);
    const expected: string[] = [];
    for (let index = 0; index < 20_000; index++) {
      const text = line(index, index === 7_000 ? 100_000 : index % 50);
      expected.push(text);
      expect(sink.write(text)).to.equal(true);
    }
    await flushed(sink);
    fs.closeSync(fd);
    expect(fs.readFileSync(file, "utf8")).to.equal(expected.join(""));
  });

  it("drops and counts lines past the bound while stdout takes nothing, and writes the rest when it does", async () => {
    const fifo = path.join(dir, "stdout");
    execFileSync("mkfifo", [fifo]);
    // Read-write and non-blocking: writes answer EAGAIN once the pipe's buffer is full.
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const sink = new LogSink(fd);
      const text = line(0, 1000);
      const fits = Math.floor(LOG_BUFFER_MAX_BYTES / text.length);
      let accepted = 0;
      for (let index = 0; index < fits + 5_000; index++) if (sink.write(line(index, 1000))) accepted += 1;
      expect(accepted).to.be.below(fits + 100);
      expect(accepted).to.be.above(fits - 100);
      expect(sink.droppedTotal).to.equal(fits + 5_000 - accepted);

      // The reader comes back: every accepted line arrives, in order, none twice.
      const done = flushed(sink);
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(1 << 16);
      let finished = false;
      void done.then(() => (finished = true));
      for (;;) {
        let read = 0;
        try {
          read = fs.readSync(reader, buffer);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        }
        if (read > 0) chunks.push(Buffer.from(buffer.subarray(0, read)));
        else if (finished) break;
        else await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const lines = Buffer.concat(chunks).toString("utf8").split("\n").slice(0, -1);
      expect(lines).to.have.length(accepted);
      lines.forEach((text, index) => expect((JSON.parse(text) as { n: number }).n).to.equal(index));
    } finally {
      fs.closeSync(fd);
      fs.closeSync(reader);
    }
  });
});

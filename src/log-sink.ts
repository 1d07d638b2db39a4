/**
 * Where log lines go: a bounded, asynchronous writer to one file descriptor (stdout), shared by
 * pino and by the access log so that every line keeps its order.
 *
 * A line is copied into a 64 KiB chunk (`LOG_CHUNK_BYTES`), and a chunk is written once it is
 * full, or `LOG_FLUSH_INTERVAL_MS` after the first line waiting in it: one write system call per
 * few hundred access-log lines, off the event loop (libuv's thread pool), one write at a time so
 * that chunks leave in order. Lines wait at most `LOG_BUFFER_MAX_BYTES` in all; past that (stdout
 * stalled) new lines are dropped and counted on stderr rather than growing memory without limit.
 * `flushSync` writes everything waiting at once, for the last lines before an exit or a crash.
 *
 * It replaced pino's own asynchronous destination (sonic-boom), which made a thread-pool write per
 * 4 KiB of lines and cost the durable hot account about a tenth of its calls (bench/README.md).
 */
import fs from "node:fs";
import { setTimeout as sleepMs } from "node:timers/promises";

/** Lines are gathered into chunks of this many bytes, one write each. */
export const LOG_CHUNK_BYTES = 64 * 1024;
/** The longest a line waits before it is written, however few follow it. */
export const LOG_FLUSH_INTERVAL_MS = 250;
/** Most bytes of lines waiting to be written; past it new lines are dropped and counted. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
/** How often, at most, dropped lines are reported on stderr. */
const DROP_REPORT_INTERVAL_MS = 10_000;
/** How long to wait before writing again to a descriptor that answered EAGAIN. */
const RETRY_MS = 10;

/**
 * The sinks holding lines not yet written: one exit hook writes them all, and a sink with
 * nothing waiting is held by nobody (tests make hundreds of servers, each with its logger).
 */
const unwritten = new Set<LogSink>();
let exitHooked = false;

function holdUntilWritten(sink: LogSink): void {
  unwritten.add(sink);
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const one of unwritten) one.flushSync();
  });
}

export class LogSink {
  /** The chunk lines are copied into; made at the first line after a cut. */
  private chunk: Buffer | undefined;
  private used = 0;
  /** Full chunks waiting for the write in flight, oldest first. */
  private readonly waiting: Buffer[] = [];
  private waitingBytes = 0;
  private writing = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private droppedLines = 0;
  /** Lines dropped since the sink was made (the stderr report counts those since the last one). */
  droppedTotal = 0;
  private dropReport: NodeJS.Timeout | undefined;
  private readonly drainCallbacks: (() => void)[] = [];

  constructor(private readonly fd: number) {}

  /** Takes one line (ending in a newline). Returns false when it was dropped. */
  write(line: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const bytesMax = line.length * 3;
    if (this.waitingBytes + this.used + bytesMax > LOG_BUFFER_MAX_BYTES) return this.drop();
    if (this.used + bytesMax > LOG_CHUNK_BYTES) {
      this.cut();
      if (bytesMax > LOG_CHUNK_BYTES) {
        this.enqueue(Buffer.from(line, "utf8"));
        return true;
      }
    }
    this.chunk ??= Buffer.allocUnsafe(LOG_CHUNK_BYTES);
    this.used += this.chunk.write(line, this.used, "utf8");
    if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flush(), LOG_FLUSH_INTERVAL_MS).unref();
      holdUntilWritten(this);
    }
    return true;
  }

  /** Writes what waits now; `callback` runs once all of it has been written. */
  flush(callback?: () => void): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.cut();
    if (callback === undefined) return;
    if (this.writing) this.drainCallbacks.push(callback);
    else callback();
  }

  /** Writes everything waiting now, blocking: for an exit or a crash. */
  flushSync(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const pending = [...this.waiting, ...(this.chunk === undefined ? [] : [this.chunk.subarray(0, this.used)])];
    this.waiting.length = 0;
    this.waitingBytes = 0;
    this.used = 0;
    this.chunk = undefined;
    unwritten.delete(this);
    for (const buffer of pending) {
      let offset = 0;
      for (let attempts = 0; offset < buffer.length && attempts < 1000; attempts += 1) {
        try {
          offset += fs.writeSync(this.fd, buffer, offset, buffer.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
        }
      }
    }
  }

  /** Moves the lines gathered so far to the write queue. */
  private cut(): void {
    if (this.used === 0 || this.chunk === undefined) return;
    const full = this.chunk.subarray(0, this.used);
    this.chunk = undefined;
    this.used = 0;
    this.enqueue(full);
  }

  /** Queues lines already accepted (within the bound `write` checked). */
  private enqueue(buffer: Buffer): void {
    this.waiting.push(buffer);
    this.waitingBytes += buffer.length;
    holdUntilWritten(this);
    if (!this.writing) void this.writeWaiting();
  }

  /**
   * Writes the queue, one chunk at a time, in order, until it is empty. The chunk in flight has
   * left the queue: `flushSync` leaves it to its write rather than writing it twice.
   */
  private async writeWaiting(): Promise<void> {
    this.writing = true;
    for (let buffer = this.waiting.shift(); buffer !== undefined; buffer = this.waiting.shift()) {
      this.waitingBytes -= buffer.length;
      try {
        const written = await writeSome(this.fd, buffer);
        if (written < buffer.length) this.requeue(buffer.subarray(written));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
          this.requeue(buffer);
          await sleepMs(RETRY_MS);
          continue;
        }
        // stdout is gone (EPIPE, EBADF): nothing will take these lines later either.
        this.countDropped(countLines(buffer));
      }
    }
    this.writing = false;
    if (this.used === 0) unwritten.delete(this);
    for (const callback of this.drainCallbacks.splice(0)) callback();
  }

  private requeue(rest: Buffer): void {
    this.waiting.unshift(rest);
    this.waitingBytes += rest.length;
  }

  private drop(): false {
    this.countDropped(1);
    return false;
  }

  private countDropped(lines: number): void {
    this.droppedLines += lines;
    this.droppedTotal += lines;
    this.dropReport ??= setTimeout(() => {
      process.stderr.write(`ledger: log buffer full or stdout closed: dropped ${this.droppedLines} log lines\n`);
      this.droppedLines = 0;
      this.dropReport = undefined;
    }, DROP_REPORT_INTERVAL_MS).unref();
  }
}

function writeSome(fd: number, buffer: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buffer, 0, buffer.length, null, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

function countLines(buffer: Buffer): number {
  let lines = 0;
  for (let index = buffer.indexOf(10); index !== -1; index = buffer.indexOf(10, index + 1)) lines += 1;
  return lines;
}

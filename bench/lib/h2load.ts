/**
 * Runs a single-payload job with h2load (Debian: nghttp2-client) when it is on PATH. h2load is a
 * C program: it spends a small fraction of the CPU per call that any Node client does, so the
 * figures it gives are the server's, not the driver's. It sends the same body on every request,
 * which is why only scenarios with one payload use it.
 *
 * h2load reports HTTP statuses, not gRPC ones (grpc-status travels in trailers it does not
 * read): a gRPC run's codes are "HTTP 200" counts, and the wallet's gRPC codes are tallied from
 * the server's own access log instead (see `tallyAccessLog`).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PINNING } from "./processes.js";
import { summarize, type RunStats } from "./stats.js";

export const H2LOAD_ON_PATH = spawnSync("h2load", ["--version"]).status === 0;

/** How h2load spreads a run's concurrency: connections, and streams in flight on each. */
export interface H2loadShape {
  readonly connections: number;
  /** `-m`: requests in flight per connection (1 for HTTP/1.1, which has no multiplexing). */
  readonly streamsPerConnection: number;
}

export interface H2loadJob extends H2loadShape {
  readonly protocol: "grpc" | "http";
  /** http://host:port/ledger.v1.LedgerService/AdjustBalance */
  readonly url: string;
  /** The request body: a gRPC frame (5-byte prefix + protobuf) or Connect JSON. */
  readonly body: Buffer;
  readonly total: number;
  /** Requests sent first, in a run of their own that is not counted (a wallet warms up on another account). */
  readonly warmup: { readonly url: string; readonly body: Buffer; readonly total: number } | null;
}

/** The 5-byte gRPC message prefix (uncompressed, length big-endian) followed by the message. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** The h2load arguments for a job, without the data file and log file. */
export function h2loadArgs(job: Omit<H2loadJob, "body" | "warmup">, total: number, url = job.url): string[] {
  const headers =
    job.protocol === "grpc"
      ? ["-H", "content-type: application/grpc", "-H", "te: trailers"]
      : ["--h1", "-H", "content-type: application/json"];
  return [...headers, "-n", String(total), "-c", String(job.connections), "-m", String(job.streamsPerConnection), url];
}

/** The h2load command line, as a user would type it (the body in /tmp/body). */
export function h2loadCommand(job: Omit<H2loadJob, "body" | "warmup">): string {
  const args = [...h2loadArgs(job, job.total), "-d", "/tmp/body"];
  return ["h2load", ...args.map((arg) => (/^[\w./:=-]+$/.test(arg) ? arg : `'${arg}'`))].join(" ");
}

export async function runH2load(job: H2loadJob): Promise<RunStats> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-h2load-"));
  try {
    const bodyPath = join(dir, "body");
    writeFileSync(bodyPath, job.body);
    if (job.warmup !== null && job.warmup.total > 0) {
      const warmupPath = join(dir, "warm-up");
      writeFileSync(warmupPath, job.warmup.body);
      // h2load wants at least one request per connection; a short warm-up uses fewer.
      const shape = { ...job, connections: Math.min(job.connections, job.warmup.total) };
      await h2load([...h2loadArgs(shape, job.warmup.total, job.warmup.url), "-d", warmupPath]);
    }
    const logPath = join(dir, "requests.log");
    const output = await h2load([...h2loadArgs(job, job.total), "-d", bodyPath, `--log-file=${logPath}`]);
    return toStats(output, readFileSync(logPath, "utf8"), job.total);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function h2load(args: string[]): Promise<string> {
  const [command, commandArgs] =
    PINNING === null ? ["h2load", args] : ["taskset", ["-c", String(PINNING.driver), "h2load", ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      const output = Buffer.concat(chunks).toString("utf8");
      if (code !== 0) reject(new Error(`h2load exited with code ${code}:\n${output}`));
      else resolve(output);
    });
  });
}

/**
 * Calls/s is h2load's own figure (requests done over the whole run, connection set-up included);
 * latencies come from its per-request log (start time, HTTP status, microseconds to the end of
 * the response). Requests missing from the log never got a response: they count as NO_RESPONSE.
 */
function toStats(output: string, log: string, total: number): RunStats {
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(output);
  if (finished === null) throw new Error(`unexpected h2load output:\n${output}`);
  const lines = log.split("\n").filter((line) => line.length > 0);
  const latencies = new Float64Array(lines.length);
  const codes: Record<string, number> = {};
  lines.forEach((line, index) => {
    const [, status, durationUs] = line.split("\t");
    latencies[index] = Number(durationUs) / 1000;
    const code = `HTTP ${status}`;
    codes[code] = (codes[code] ?? 0) + 1;
  });
  if (lines.length < total) codes.NO_RESPONSE = total - lines.length;
  const durationMs = Number(finished[1]) * (finished[2] === "s" ? 1000 : 1);
  return { ...summarize(latencies, codes, durationMs), callsPerSec: Math.round(Number(finished[3])) };
}

/**
 * Counts the access-log lines of one method by code: `{"OK": 5000, "FAILED_PRECONDITION": 5000}`.
 * The log is the server's stdout, one JSON line per call; the wallet runs use it because
 * h2load cannot see gRPC status codes.
 */
export function tallyAccessLog(logPath: string, method: string): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const line of readFileSync(logPath, "utf8").split("\n")) {
    if (!line.includes(`"method":"${method}"`)) continue;
    const code = /"code":"([A-Z_]+)"/.exec(line)?.[1];
    if (code !== undefined) codes[code] = (codes[code] ?? 0) + 1;
  }
  return codes;
}

/**
 * The load driver, run as its own process (pinned to its own core when `taskset` exists) so that
 * the client's CPU does not come out of the server's. It does what ghz does: `total` calls, at
 * most `concurrency` in flight, spread over `connections` HTTP/2 connections, and reports the
 * figures ghz reports. It is built on @grpc/grpc-js (and node:http for HTTP/1.1 callers), with
 * requests encoded in advance and responses left undecoded, so that the client is as cheap as
 * a Node client can be.
 *
 * Protocol: the parent sends one `DriverJob` over IPC per run; the driver answers with its
 * `RunStats` and waits for the next job.
 */
import { Agent, request as httpRequest } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { summarize, type RunStats } from "./lib/stats.js";
import { workload, type EncodedCall, type WorkloadName } from "./lib/workload.js";

export interface DriverJob {
  readonly protocol: "grpc" | "http";
  /** host:port */
  readonly address: string;
  readonly workload: WorkloadName;
  readonly total: number;
  readonly concurrency: number;
  /** HTTP/2 connections for gRPC; HTTP/1.1 opens one per call in flight. */
  readonly connections: number;
  /** Calls made first and not counted, so the JIT and the connections are warm. */
  readonly warmup: number;
}

type Caller = (call: EncodedCall, done: (code: string) => void) => void;

function grpcCaller(job: DriverJob): { call: Caller; close: () => void } {
  const clients = Array.from(
    { length: job.connections },
    () => new grpc.Client(job.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  const identity = (bytes: Buffer) => bytes;
  let next = 0;
  return {
    call: (call, done) => {
      const client = clients[next++ % clients.length] as grpc.Client;
      client.makeUnaryRequest(call.path, identity, identity, call.body, (error) => {
        done(error ? (grpc.status[error.code] ?? String(error.code)) : "OK");
      });
    },
    close: () => clients.forEach((client) => client.close()),
  };
}

function httpCaller(job: DriverJob): { call: Caller; close: () => void } {
  const [host, port] = job.address.split(":");
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  return {
    call: (call, done) => {
      const outgoing = httpRequest(
        { host, port, agent, method: "POST", path: call.path, headers: { "content-type": "application/json" } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            if (response.statusCode === 200) return done("OK");
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code?: string };
            done((body.code ?? `HTTP_${response.statusCode}`).toUpperCase());
          });
        },
      );
      outgoing.on("error", (error: NodeJS.ErrnoException) => done(error.code ?? "NETWORK_ERROR"));
      outgoing.end(call.json);
    },
    close: () => agent.destroy(),
  };
}

/** Makes `total` calls with at most `concurrency` in flight; resolves with latencies and codes. */
function load(caller: Caller, calls: EncodedCall[], total: number, concurrency: number): Promise<RunStats> {
  const latencies = new Float64Array(total);
  const codes: Record<string, number> = {};
  let started = 0;
  let finished = 0;
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const launch = () => {
      const index = started++;
      const callStartedAt = performance.now();
      caller(calls[index % calls.length] as EncodedCall, (code) => {
        latencies[index] = performance.now() - callStartedAt;
        codes[code] = (codes[code] ?? 0) + 1;
        finished += 1;
        if (started < total) launch();
        else if (finished === total) resolve(summarize(latencies, codes, performance.now() - startedAt));
      });
    };
    for (let slot = 0; slot < Math.min(concurrency, total); slot++) launch();
  });
}

async function run(job: DriverJob): Promise<RunStats> {
  const { call, close } = job.protocol === "grpc" ? grpcCaller(job) : httpCaller(job);
  const calls = workload(job.workload);
  try {
    if (job.warmup > 0) await load(call, calls, job.warmup, job.concurrency);
    return await load(call, calls, job.total, job.concurrency);
  } finally {
    close();
  }
}

process.on("message", (job: DriverJob) => {
  run(job).then(
    (stats) => process.send?.({ ok: true, stats }),
    (error: unknown) => process.send?.({ ok: false, error: String(error) }),
  );
});
process.send?.({ ready: true });

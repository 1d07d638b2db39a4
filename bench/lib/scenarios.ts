/**
 * The scenarios and ceilings of `npm run bench`, in the order they run, and the ghz command
 * line that reproduces each gRPC run. Runs that send one payload carry an h2load shape and are
 * driven by h2load when it is on PATH; runs with varied payloads use the in-repo driver (or ghz).
 */
import type { DriverJob } from "../driver.js";
import type { H2loadShape } from "./h2load.js";
import type { WorkloadName } from "./workload.js";

export type ServerKind =
  | "ledger-full"
  | "ledger-normal"
  | "ledger-full-quiet"
  | "ledger-full-grpc-js-engine"
  | "trivial-stack"
  | "trivial-stack-grpc-js-engine"
  | "trivial-grpc-js"
  | "trivial-node-http";

export interface RunSpec {
  /** A stable id, e.g. "sustained-full-c100". */
  readonly id: string;
  readonly scenario: string;
  readonly server: ServerKind;
  readonly job: Omit<DriverJob, "address">;
  /** Set when every call sends the same payload: h2load drives it, spread this way. */
  readonly h2load?: H2loadShape;
  /**
   * Runs on a server of its own whose access log is kept, so that its codes can be tallied
   * (h2load cannot see gRPC codes) and its account starts fresh.
   */
  readonly ownServer?: boolean;
}

export interface Sizes {
  /** Calls per sustained-writes run (the issue asks for at least 200,000). */
  readonly sustainedTotal: number;
  /** Calls per hot-account, reads and ceiling run: enough for stable figures, short enough for ~10 minutes. */
  readonly otherTotal: number;
  readonly warmup: number;
}

/** One HTTP/2 connection per 1,000 calls in flight, the server's default stream bound. */
export function connectionsFor(concurrency: number): number {
  return Math.max(1, Math.ceil(concurrency / 1000));
}

/** h2load's gRPC shape: 10 connections (as the figures), concurrency/10 streams on each. */
function grpcShape(concurrency: number): H2loadShape {
  return { connections: 10, streamsPerConnection: Math.max(1, concurrency / 10) };
}

function grpcJob(
  workload: WorkloadName,
  total: number,
  concurrency: number,
  warmup: number,
): Omit<DriverJob, "address"> {
  return { protocol: "grpc", workload, total, concurrency, connections: connectionsFor(concurrency), warmup };
}

/** The HTTP callers: 10,000 requests of Connect JSON over `connections` HTTP/1.1 connections. */
function httpJob(connections: number, warmup: number): Omit<DriverJob, "address"> {
  return { protocol: "http", workload: "wallet-http", total: 10_000, concurrency: connections, connections, warmup };
}

function ceilings(sizes: Sizes): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const server of ["trivial-grpc-js", "trivial-stack"] as const) {
    for (const concurrency of [100, 1000]) {
      // One payload, for h2load: the ceiling of the hot-account rows.
      runs.push({
        id: `${server}-c${concurrency}`,
        scenario: `ceiling ${server}`,
        server,
        job: grpcJob("hot-writes", sizes.otherTotal, concurrency, sizes.warmup),
        h2load: grpcShape(concurrency),
      });
      // Varied payloads, for the in-repo driver: the ceiling of the sustained rows.
      runs.push({
        id: `${server}-mix-c${concurrency}`,
        scenario: `ceiling ${server}, write mix`,
        server,
        job: grpcJob("spread-writes", sizes.otherTotal, concurrency, sizes.warmup),
      });
    }
  }
  for (const connections of [1000, 10_000]) {
    runs.push({
      id: `trivial-node-http-c${connections}`,
      scenario: "ceiling trivial-node-http",
      server: "trivial-node-http",
      job: httpJob(connections, sizes.warmup),
      h2load: { connections, streamsPerConnection: 1 },
    });
  }
  return runs;
}

export function plan(sizes: Sizes): RunSpec[] {
  const runs = ceilings(sizes);
  runs.push({
    id: "wallet",
    scenario: "wallet",
    server: "ledger-full",
    // No warm-up of the wallet's own calls: they would spend its balance. The h2load run warms
    // the server up with Load calls on another account instead.
    job: grpcJob("wallet", 10_000, 10_000, 0),
    h2load: { connections: 10, streamsPerConnection: 1000 },
    ownServer: true,
  });
  for (const connections of [1000, 10_000]) {
    runs.push({
      id: `http-wallet-c${connections}`,
      scenario: "wallet, HTTP callers",
      server: "ledger-full",
      job: httpJob(connections, 0),
      h2load: { connections, streamsPerConnection: 1 },
      ownServer: true,
    });
  }
  for (const server of ["ledger-full", "ledger-normal"] as const) {
    const durability = server === "ledger-full" ? "full" : "normal";
    for (const concurrency of [100, 1000]) {
      runs.push({
        id: `sustained-${durability}-c${concurrency}`,
        scenario: "sustained",
        server,
        job: grpcJob("spread-writes", sizes.sustainedTotal, concurrency, sizes.warmup),
      });
    }
    for (const concurrency of [100, 1000]) {
      runs.push({
        id: `hot-${durability}-c${concurrency}`,
        scenario: "hot account",
        server,
        job: grpcJob("hot-writes", sizes.otherTotal, concurrency, sizes.warmup),
        h2load: grpcShape(concurrency),
      });
    }
    if (server === "ledger-full") {
      runs.push({
        id: "reads-c100",
        scenario: "reads",
        server,
        job: grpcJob("reads", sizes.otherTotal, 100, sizes.warmup),
      });
    }
  }
  // The access log's cost: the same run with LEDGER_LOG_LEVEL=warn, beside hot-full-c100.
  runs.push({
    id: "hot-full-quiet-c100",
    scenario: "hot account, access log off",
    server: "ledger-full-quiet",
    job: grpcJob("hot-writes", sizes.otherTotal, 100, sizes.warmup),
    h2load: grpcShape(100),
  });
  // The previous engine (LEDGER_GRPC_SERVER=grpc-js), side by side with the default (http2).
  runs.push(
    {
      id: "trivial-stack-engine-grpc-js-c100",
      scenario: "trivial stack, grpc-js engine",
      server: "trivial-stack-grpc-js-engine",
      job: grpcJob("hot-writes", sizes.otherTotal, 100, sizes.warmup),
      h2load: grpcShape(100),
    },
    {
      id: "hot-full-engine-grpc-js-c100",
      scenario: "hot account, grpc-js engine",
      server: "ledger-full-grpc-js-engine",
      job: grpcJob("hot-writes", sizes.otherTotal, 100, sizes.warmup),
      h2load: grpcShape(100),
    },
  );
  return runs;
}

const GHZ_CALLS: Record<WorkloadName, { method: string; data: string }> = {
  wallet: { method: "AdjustBalance", data: '{"userId":"wallet","amount":"-2"}' },
  "wallet-http": { method: "AdjustBalance", data: '{"userId":"wallet-http","amount":"-2"}' },
  // ghz sends one method per run: the write mix is approximated by AdjustBalance alone.
  "spread-writes": { method: "AdjustBalance", data: '{"userId":"acct-{{randomInt 0 1000}}","amount":"1"}' },
  "hot-writes": { method: "AdjustBalance", data: '{"userId":"hot","amount":"1"}' },
  reads: { method: "GetBalance", data: '{"userId":"acct-{{randomInt 0 1000}}"}' },
};

/** The ghz arguments that make the same calls (ghz finds the schema by reflection). */
export function ghzArgs(job: Omit<DriverJob, "address">, address: string): string[] {
  const call = GHZ_CALLS[job.workload];
  return [
    "--insecure",
    "--call",
    `ledger.v1.LedgerService/${call.method}`,
    "-d",
    call.data,
    "-n",
    String(job.total),
    "-c",
    String(job.concurrency),
    "--connections",
    String(job.connections),
    address,
  ];
}

/** The ghz command line, as a user would type it. */
export function ghzCommand(job: Omit<DriverJob, "address">, address: string): string {
  return ["ghz", ...ghzArgs(job, address).map((arg) => (/^[\w./:=-]+$/.test(arg) ? arg : `'${arg}'`))].join(" ");
}

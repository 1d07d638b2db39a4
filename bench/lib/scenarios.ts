/**
 * The scenarios and ceilings of `npm run bench`, in the order they run, and the ghz command
 * line that reproduces each gRPC run.
 */
import type { DriverJob } from "../driver.js";
import type { WorkloadName } from "./workload.js";

export type ServerKind = "ledger-full" | "ledger-normal" | "trivial-stack" | "trivial-grpc-js";

export interface RunSpec {
  /** A stable id, e.g. "sustained-full-c100". */
  readonly id: string;
  readonly scenario: string;
  readonly server: ServerKind;
  readonly job: Omit<DriverJob, "address">;
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

function grpcJob(workload: WorkloadName, sizes: Sizes, concurrency: number): Omit<DriverJob, "address"> {
  const total = workload === "spread-writes" ? sizes.sustainedTotal : sizes.otherTotal;
  return { protocol: "grpc", workload, total, concurrency, connections: connectionsFor(concurrency), warmup: sizes.warmup };
}

export function plan(sizes: Sizes): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const server of ["trivial-grpc-js", "trivial-stack"] as const) {
    for (const concurrency of [100, 1000]) {
      const job = { ...grpcJob("spread-writes", sizes, concurrency), total: sizes.otherTotal };
      runs.push({ id: `${server}-c${concurrency}`, scenario: `ceiling ${server}`, server, job });
    }
  }
  runs.push({
    id: "wallet",
    scenario: "wallet",
    server: "ledger-full",
    job: { protocol: "grpc", workload: "wallet", total: 10_000, concurrency: 10_000, connections: connectionsFor(10_000), warmup: 0 },
  });
  runs.push({
    id: "http-wallet",
    scenario: "HTTP callers",
    server: "ledger-full",
    job: { protocol: "http", workload: "wallet-http", total: 10_000, concurrency: 10_000, connections: 10_000, warmup: 0 },
  });
  for (const server of ["ledger-full", "ledger-normal"] as const) {
    for (const [scenario, workload] of [["sustained", "spread-writes"], ["hot account", "hot-writes"]] as const) {
      for (const concurrency of [100, 1000]) {
        const durability = server === "ledger-full" ? "full" : "normal";
        runs.push({ id: `${scenario.split(" ")[0]}-${durability}-c${concurrency}`, scenario, server, job: grpcJob(workload, sizes, concurrency) });
      }
    }
    if (server === "ledger-full") {
      runs.push({ id: "reads-c100", scenario: "reads", server, job: grpcJob("reads", sizes, 100) });
    }
  }
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
    "--call", `ledger.v1.LedgerService/${call.method}`,
    "-d", call.data,
    "-n", String(job.total), "-c", String(job.concurrency), "--connections", String(job.connections),
    address,
  ];
}

/** The ghz command line, as a user would type it. */
export function ghzCommand(job: Omit<DriverJob, "address">, address: string): string {
  return ["ghz", ...ghzArgs(job, address).map((arg) => (/^[\w./:=-]+$/.test(arg) ? arg : `'${arg}'`))].join(" ");
}

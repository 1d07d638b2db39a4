/**
 * `npm run bench -- --rounds=N` (bench/lib/report.ts): each target's ratio per round, the median
 * of the rounds and its verdict, and every round's own summary after it.
 */
import { expect } from "chai";
import { renderRounds, targetResults, type BenchReport, type RunRecord } from "../../bench/lib/report.js";

function run(id: string, server: string, callsPerSec: number): RunRecord {
  return {
    id,
    scenario: id,
    server,
    driver: "h2load",
    loadAverage1m: 1,
    job: { protocol: "grpc", concurrency: 100, workload: "hot" },
    stats: {
      count: 50_000,
      durationMs: 1,
      callsPerSec,
      latencyMs: { mean: 1, p50: 1, p90: 2, p99: 3, max: 4 },
      histogram: {},
      codes: { "HTTP 200": 50_000 },
    },
  } as unknown as RunRecord;
}

function report(hot: number, ceiling: number): BenchReport {
  return {
    startedAt: "2026-11-24T03:00:00.000Z",
    durationS: 1,
    node: "v24",
    platform: "linux x64",
    cores: 2,
    cpuModel: "cpu",
    pinning: "none",
    loadAverage: "1",
    quick: false,
    driver: "h2load",
    settings: {},
    runs: [run("trivial-grpc-js-c100", "trivial-grpc-js", ceiling), run("hot-full-c100", "ledger-full", hot)],
    storeCeilings: [],
    ingest: null,
    checks: [],
    ghzCommands: [],
  };
}

describe("bench rounds summary (unit)", () => {
  it("divides each run by its ceiling of the same round", () => {
    const [result] = targetResults(report(15_000, 20_000));
    expect(result).to.include({ callsPerSec: 15_000, ceilingCallsPerSec: 20_000, fraction: 0.75, wanted: 0.8 });
  });

  it("gives every round's ratio and judges the median, then each round's summary", () => {
    const markdown = renderRounds([report(15_000, 20_000), report(17_000, 20_000), report(12_000, 20_000)]);
    const row = markdown.split("\n").find((line) => line.startsWith("| durable AdjustBalance"));
    expect(row).to.equal(
      "| durable AdjustBalance on one account c=100 vs trivial @grpc/grpc-js (b) (target 80%) | 75% | 85% | 60% | 75% | MISSED by 5 points |",
    );
    expect(markdown).to.contain("## Round 3");
    expect(markdown).to.not.contain("p99/p50 of");
    expect(markdown).to.contain("### Targets");
    const met = renderRounds([report(17_000, 20_000), report(16_500, 20_000)]);
    expect(met).to.match(/\| 85% \| 83% \| 84% \| MET \|/);
  });

  it("judges the latency spread at c=1,000 on the median of the rounds", () => {
    const withSpread = (p99: number): BenchReport => {
      const base = report(15_000, 20_000);
      const wallet = run("http-wallet-c1000", "ledger-full", 9_000) as unknown as {
        job: { concurrency: number };
        stats: { latencyMs: { p50: number; p99: number } };
      };
      wallet.job = { ...wallet.job, concurrency: 1000 };
      wallet.stats = { ...wallet.stats, latencyMs: { ...wallet.stats.latencyMs, p50: 100, p99 } };
      return { ...base, runs: [...base.runs, wallet as unknown as RunRecord] };
    };
    const markdown = renderRounds([withSpread(150), withSpread(2_800), withSpread(190)]);
    expect(markdown).to.contain(
      "| p99/p50 of http-wallet-c1000 (target at most 10x) | 1.5x | 28.0x | 1.9x | 1.9x | MET |",
    );
  });
});

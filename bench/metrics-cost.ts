/**
 * `npx tsx bench/metrics-cost.ts`: what the call metrics add to one call, measured alone.
 *
 * End-to-end runs on a shared 2-core machine move by more than the metrics cost, so this runs
 * the call interceptor in-process (silent logger, a handler that answers at once) with and
 * without the metrics, alternating rounds, and prints the nanoseconds per call of each and the
 * difference. Divide the difference by a call's server time (1 / calls/s of a bench row, on
 * one core) to get the share of a call the metrics take.
 */
import { loadavg } from "node:os";
import type { UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { LedgerService } from "../gen/ledger/v1/ledger_pb.js";
import { createLogger } from "../src/logger.js";
import { LedgerMetrics } from "../src/metrics/ledger-metrics.js";
import { CallGate, callInterceptor } from "../src/rpc/interceptors.js";

const CALLS = 500_000;
const ROUNDS = 5;
const request = { service: LedgerService, method: LedgerService.method.adjustBalance } as unknown as UnaryRequest;
const response = {} as UnaryResponse;
const answer = () => Promise.resolve(response);

async function nsPerCall(withMetrics: boolean): Promise<number> {
  const metrics = withMetrics ? new LedgerMetrics([LedgerService]) : undefined;
  const call = callInterceptor(new CallGate(), createLogger("silent"), metrics?.calls)(answer);
  for (let index = 0; index < 20_000; index += 1) await call(request);
  const startedAt = process.hrtime.bigint();
  for (let index = 0; index < CALLS; index += 1) await call(request);
  return Number(process.hrtime.bigint() - startedAt) / CALLS;
}

const results: { on: number[]; off: number[] } = { on: [], off: [] };
console.log(
  `load average before: ${loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")}`,
);
for (let round = 0; round < ROUNDS; round += 1) {
  results.off.push(await nsPerCall(false));
  results.on.push(await nsPerCall(true));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const on = median(results.on);
const off = median(results.off);
console.log(`calls per round: ${CALLS}, rounds: ${ROUNDS}`);
console.log(
  `interceptor without metrics: ${off.toFixed(0)} ns/call (rounds: ${results.off.map((value) => value.toFixed(0)).join(", ")})`,
);
console.log(
  `interceptor with metrics:    ${on.toFixed(0)} ns/call (rounds: ${results.on.map((value) => value.toFixed(0)).join(", ")})`,
);
console.log(`the metrics add ${(on - off).toFixed(0)} ns per call (median of each)`);
console.log(
  `load average after: ${loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")}`,
);

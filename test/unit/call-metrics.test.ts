/**
 * The call interceptor reports every outcome to the call metrics once, with the code the caller
 * gets: OK, an operating error as is, an unexpected exception as the INTERNAL it is masked to,
 * and a refusal while draining as UNAVAILABLE.
 */
import { expect } from "chai";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { createLogger } from "../../src/logger.js";
import { CallMetrics } from "../../src/metrics/call-metrics.js";
import { CallGate, callInterceptor } from "../../src/rpc/interceptors.js";

const request = { service: LedgerService, method: LedgerService.method.load } as unknown as UnaryRequest;
const LOAD = "ledger.v1.LedgerService/Load";

async function counts(registry: Registry): Promise<Record<string, number>> {
  const calls = await registry.getSingleMetric("ledger_rpc_calls_total")?.get();
  return Object.fromEntries(
    (calls?.values ?? []).map((value) => [`${value.labels.method} ${value.labels.code}`, value.value]),
  );
}

async function latencyCount(registry: Registry): Promise<number> {
  const latency = await registry.getSingleMetric("ledger_rpc_duration_seconds")?.get();
  // A histogram's values carry the sample name (bucket, sum or count), which its type leaves out.
  const values = (latency?.values ?? []) as { metricName?: string; labels: Record<string, unknown>; value: number }[];
  return (
    values.find((value) => value.metricName === "ledger_rpc_duration_seconds_count" && value.labels.method === LOAD)
      ?.value ?? -1
  );
}

describe("call metrics through the call interceptor", () => {
  it("count each outcome under the code the caller gets, and time every call", async () => {
    const registry = new Registry();
    const gate = new CallGate();
    const intercept = callInterceptor(gate, createLogger("silent"), new CallMetrics(registry, [LedgerService]));
    const outcomes: (() => Promise<UnaryResponse>)[] = [
      () => Promise.resolve({} as UnaryResponse),
      () => Promise.reject(new ConnectError("insufficient funds", Code.FailedPrecondition)),
      () => Promise.reject(new Error("SQLITE_ERROR in SELECT")),
      () => Promise.reject(new ConnectError("driver text", Code.Unknown)),
    ];
    for (const next of outcomes) await intercept(next)(request).catch(() => undefined);
    await gate.drain();
    await intercept(() => Promise.resolve({} as UnaryResponse))(request).catch(() => undefined);
    expect(await counts(registry)).to.deep.equal({
      [`${LOAD} OK`]: 1,
      [`${LOAD} FAILED_PRECONDITION`]: 1,
      [`${LOAD} INTERNAL`]: 2,
      [`${LOAD} UNAVAILABLE`]: 1,
    });
    expect(await latencyCount(registry)).to.equal(5);
  });

  it("bind every method of the services up front, and no other", async () => {
    const registry = new Registry();
    new CallMetrics(registry, [LedgerService]);
    const latency = await registry.getSingleMetric("ledger_rpc_duration_seconds")?.get();
    const methods = new Set(latency?.values.map((value) => value.labels.method));
    expect([...methods].sort()).to.deep.equal(
      LedgerService.methods.map((method) => `${LedgerService.typeName}/${method.name}`).sort(),
    );
  });
});

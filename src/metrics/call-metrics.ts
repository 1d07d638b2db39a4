/**
 * Calls by method and code, and their latency by method, for every transport: the call
 * interceptor that native gRPC, connect-node, the lean HTTP/1.1 path and the REST gateway all
 * run reports here once per call.
 *
 * The method label comes from the service descriptors only (never from a path or a caller), and
 * the code label from the 17 gRPC codes, so the series are bounded: 10 methods today. The label
 * children are bound once per method and code, so a call costs a map lookup and prom-client's
 * own work, nothing more.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import { codeName, type CallObserver, type MethodCallRecorder } from "../rpc/interceptors.js";
import { methodName } from "../rpc/access-log.js";

/** Upper bounds of the latency buckets, in seconds: from 250 µs (a cached read) to 10 s. */
const LATENCY_BUCKETS_SECONDS = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** gRPC status codes run from 0 (OK) to 16 (UNAUTHENTICATED). */
const CODE_COUNT = 17;

type CounterChild = ReturnType<Counter<"method" | "code">["labels"]>;
type HistogramChild = ReturnType<Histogram<"method">["labels"]>;

class MethodMetrics implements MethodCallRecorder {
  private readonly byCode: (CounterChild | undefined)[] = new Array<CounterChild | undefined>(CODE_COUNT).fill(
    undefined,
  );

  constructor(
    private readonly calls: Counter<"method" | "code">,
    private readonly latency: HistogramChild,
    private readonly method: string,
  ) {}

  record(code: Code | 0, durationMs: number): void {
    let counter = this.byCode[code];
    if (counter === undefined) {
      counter = this.calls.labels(this.method, code === 0 ? "OK" : codeName(code));
      this.byCode[code] = counter;
    }
    counter.inc();
    this.latency.observe(durationMs / 1000);
  }
}

export class CallMetrics implements CallObserver {
  private readonly byMethod = new Map<DescMethod, MethodMetrics>();
  private readonly calls: Counter<"method" | "code">;
  private readonly latency: Histogram<"method">;

  /** Binds a recorder to every method of `services`, so each shows up before its first call. */
  constructor(registry: Registry, services: readonly DescService[]) {
    this.calls = new Counter({
      name: "ledger_rpc_calls_total",
      help: "Calls finished, by method (service/method) and gRPC status code, over every transport.",
      labelNames: ["method", "code"],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "ledger_rpc_duration_seconds",
      help: "Time from a call's arrival at the interceptors to its answer (for streams: to the handler's return), by method.",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    for (const service of services) {
      for (const method of service.methods) this.bind(service, method);
    }
  }

  of(service: DescService, method: DescMethod): MethodCallRecorder {
    // Only methods of registered services reach the interceptors, so this stays bounded.
    return this.byMethod.get(method) ?? this.bind(service, method);
  }

  private bind(service: DescService, method: DescMethod): MethodMetrics {
    const name = methodName(service, method);
    this.latency.zero({ method: name });
    const metrics = new MethodMetrics(this.calls, this.latency.labels(name), name);
    this.byMethod.set(method, metrics);
    return metrics;
  }
}

/**
 * The service's Prometheus metrics: one registry per built server (tests build many in one
 * process), plus Node's default process metrics, which are per process and so collected once
 * into a registry of their own that every server's output includes.
 *
 * Counters and histograms on the request and write paths are updated as things happen; the
 * gauges (queue depth, connections, the poller's figures) are read from their owners when
 * Prometheus scrapes, so they cost nothing between scrapes.
 */
import type { DescService } from "@bufbuild/protobuf";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { VendorPollerStatus } from "../ingest/status.js";
import { CallMetrics } from "./call-metrics.js";
import { WriteMetrics } from "./write-metrics.js";
import { StreamMetrics } from "./stream-metrics.js";

/** Where the scrape-time gauges come from. */
export interface MetricSources {
  readonly writeQueueDepth: () => number;
  readonly callsInFlight: () => number;
  readonly openConnections: () => number;
  /** The vendor poller's status; only when a vendor is configured, `undefined` until it starts. */
  readonly ingest?: () => VendorPollerStatus | undefined;
}

let processRegistry: Registry | undefined;

/** Node's default metrics (CPU, memory, event loop lag, GC, handles), collected once per process. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class LedgerMetrics {
  private readonly own = new Registry();
  readonly calls: CallMetrics;
  readonly writes: WriteMetrics;
  readonly streams: StreamMetrics;
  private readonly refreshers: (() => void)[] = [];

  constructor(services: readonly DescService[]) {
    this.calls = new CallMetrics(this.own, services);
    this.writes = new WriteMetrics(this.own);
    this.streams = new StreamMetrics(this.own);
  }

  /** The scrape-time gauges; called once the server's parts exist. */
  watch(sources: MetricSources): void {
    this.gauge("ledger_store_write_queue_depth", "Mutations waiting for a write batch.", sources.writeQueueDepth);
    this.gauge(
      "ledger_rpc_calls_in_flight",
      "Calls admitted and not yet answered (long-lived streams excluded).",
      sources.callsInFlight,
    );
    this.gauge("ledger_open_connections", "Open client connections, HTTP/1.1 and HTTP/2.", sources.openConnections);
    if (sources.ingest !== undefined) this.watchIngest(sources.ingest);
  }

  get contentType(): string {
    return this.own.contentType;
  }

  /** The text exposition format, with every gauge read now. */
  async render(): Promise<string> {
    for (const refresh of this.refreshers) refresh();
    // Each registry's text ends with a newline, so the two join into one valid exposition.
    const [own, process] = await Promise.all([this.own.metrics(), processMetrics().metrics()]);
    return own + process;
  }

  private gauge(name: string, help: string, read: () => number): void {
    const gauge = new Gauge({ name, help, registers: [this.own] });
    this.refreshers.push(() => gauge.set(read()));
  }

  private watchIngest(status: () => VendorPollerStatus | undefined): void {
    const registers = [this.own];
    const lag = new Gauge({
      name: "ledger_ingest_lag_seconds",
      help: "How far the ingested vendor data is behind the vendor's present.",
      registers,
    });
    const rows = new Counter({
      name: "ledger_ingest_rows_total",
      help: "Vendor rows handled by this process: applied as entries, skipped as already applied, or quarantined as bad.",
      labelNames: ["outcome"],
      registers,
    });
    const requests = new Counter({
      name: "ledger_ingest_requests_total",
      help: "Requests sent to the vendor by this process, retries included.",
      registers,
    });
    const byPurpose = new Counter({
      name: "ledger_vendor_requests_total",
      help: "Requests sent to the vendor by this process, retries included, by what they were for: fresh, closing, count, reconcileCount, reconcileRead, task.",
      labelNames: ["purpose"],
      registers,
    });
    const inWindow = new Gauge({
      name: "ledger_ingest_budget_window_requests",
      help: "Requests to the vendor in the current budget window, by every process.",
      registers,
    });
    const windowMax = new Gauge({
      name: "ledger_ingest_budget_window_requests_max",
      help: "The vendor's request budget per window.",
      registers,
    });
    const reconciled = new Counter({
      name: "ledger_ingest_reconcile_ranges_total",
      help: "Closed ranges reconciliation counted against the vendor: equal (verified) or with a count difference (differing).",
      labelNames: ["result"],
      registers,
    });
    const recovered = new Counter({
      name: "ledger_ingest_rows_recovered_total",
      help: "Vendor rows that appeared after their window closed, applied by reconciliation (also counted as applied).",
      registers,
    });
    this.refreshers.push(() => {
      const snapshot = status();
      if (snapshot === undefined) return;
      lag.set(snapshot.lagMs / 1000);
      // The poller keeps the totals; a counter is set to them by resetting and adding.
      setCounter(rows, snapshot.rowsIngested, { outcome: "applied" });
      setCounter(rows, snapshot.rowsDuplicate, { outcome: "duplicate" });
      setCounter(rows, snapshot.rowsQuarantined, { outcome: "quarantined" });
      setCounter(requests, snapshot.requestsUsed);
      for (const [purpose, total] of Object.entries(snapshot.requestsByPurpose)) {
        setCounter(byPurpose, total, { purpose });
      }
      setCounter(reconciled, snapshot.rangesVerified, { result: "verified" });
      setCounter(reconciled, snapshot.rangesDiffering, { result: "differing" });
      setCounter(recovered, snapshot.rowsRecovered);
      // -1 means the store could not be read (it is closing): leave the last figure.
      if (snapshot.requestsInWindow >= 0) inWindow.set(snapshot.requestsInWindow);
      windowMax.set(snapshot.requestsPerWindow);
    });
  }
}

function setCounter<Label extends string>(
  counter: Counter<Label>,
  total: number,
  labels?: Partial<Record<Label, string>>,
): void {
  if (labels === undefined) {
    counter.reset();
    counter.inc(total);
    return;
  }
  counter.remove(labels);
  counter.inc(labels, total);
}

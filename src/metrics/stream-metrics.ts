/**
 * The live stream's metrics: how many StreamEntries calls are open and how many entries they
 * have sent. Updated as streams open, close and send, so a scrape reads them as they stand.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { StreamObserver } from "../rpc/entry-stream-rpc.js";

export class StreamMetrics implements StreamObserver {
  private readonly subscribers: Gauge;
  private readonly entries: Counter;

  constructor(registry: Registry) {
    this.subscribers = new Gauge({
      name: "ledger_stream_subscribers",
      help: "Open StreamEntries calls in this process.",
      registers: [registry],
    });
    this.entries = new Counter({
      name: "ledger_stream_entries_delivered_total",
      help: "Entries handed to StreamEntries callers' transports by this process.",
      registers: [registry],
    });
  }

  opened(): void {
    this.subscribers.inc();
  }

  closed(): void {
    this.subscribers.dec();
  }

  delivered(): void {
    this.entries.inc();
  }
}

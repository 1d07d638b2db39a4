/**
 * Counts of connections cut because the client stalled, logged as one line per interval rather
 * than one per connection: under a slowloris attack a line per socket would flood the log.
 */

/** Where a connection stalled. */
export type StallKind =
  /** No TLS handshake within the headers deadline. */
  | "tls_handshake"
  /** Too few first bytes to tell the protocol, or an HTTP/2 preface without its SETTINGS. */
  | "preface"
  /** HTTP/1.1 headers or body not complete within their deadline: answered 408. */
  | "http1_request"
  /** An HTTP/2 request body not complete within the request deadline: the stream is reset. */
  | "http2_request"
  /** An HTTP/2 session with no open stream for the idle deadline: GOAWAY. */
  | "http2_idle";

export interface StallLogger {
  warn(fields: object, message: string): void;
}

/** How often, at most, the counts are logged, in milliseconds. */
const LOG_INTERVAL_MS = 1000;

export class StalledConnections {
  private counts = new Map<StallKind, number>();
  private timer: NodeJS.Timeout | undefined;
  private totalCount = 0;

  constructor(private readonly logger: StallLogger) {}

  /** Connections cut since start, of every kind. */
  get total(): number {
    return this.totalCount;
  }

  count(kind: StallKind): void {
    this.totalCount += 1;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.timer ??= setTimeout(() => this.flush(), LOG_INTERVAL_MS).unref();
  }

  /** Logs what was counted since the last line, if anything. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const stalled = Object.fromEntries(this.counts);
    this.counts = new Map();
    this.logger.warn({ stalled, stalledTotal: this.totalCount }, "cut stalled connections");
  }
}

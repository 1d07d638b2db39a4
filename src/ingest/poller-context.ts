/**
 * What every part of one poller run shares: its settings, the store's ingest port, its status,
 * the lease holder's id, and the two ways it touches the outside: one budgeted request to the
 * vendor, and one commit of a page. Each request is recorded in the persisted budget before it
 * is sent, and retried with backoff until it succeeds or the poller stops; a commit quarantines
 * bad rows and logs why.
 */
import { foldVendorFact } from "../domain/vendor-fact.js";
import type { IngestStore, VendorCursor } from "../store/ingest-port.js";
import type { VendorConfig } from "./config.js";
import { backoffMs } from "./plan.js";
import type { Range } from "./reconcile.js";
import type { PollerStatus, RequestPurpose } from "./status.js";
import { fetchPage, type VendorPage } from "./vendor-client.js";
import { checkVendorRow } from "./vendor-row.js";

/** The `{info, warn, error}` part of a pino logger. */
export interface IngestLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * The budget's safety margin: requests are spaced as if the window were this much longer, so
 * that network jitter cannot make the vendor see one more request in its minute than we did.
 */
export function budgetMarginMs(windowMs: number): number {
  return Math.max(50, Math.ceil(windowMs / 20));
}

export class PollerContext {
  readonly abort = new AbortController();
  /** The vendor's rows per millisecond, from the last first page's totalItems; null until measured. */
  rowsPerMs: number | null = null;

  constructor(
    readonly ingest: IngestStore,
    readonly holderId: string,
    readonly config: VendorConfig,
    readonly logger: IngestLogger,
    readonly status: PollerStatus,
    readonly clock: () => number,
    readonly random: () => number,
  ) {}

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Sizes the next reads from a first page's totalItems over its range. */
  observeRate(startMs: number, endMs: number, totalItems: number): void {
    if (endMs - startMs >= 1000) this.rowsPerMs = totalItems / (endMs - startMs);
  }

  rangeFields(range: Range): { start: string; end: string } {
    return { start: new Date(range.startMs).toISOString(), end: new Date(range.endMs).toISOString() };
  }

  /** True when the budget window holds a free slot for this request and `keptFree` more for the present. */
  async budgetSpare(nowMs: number, keptFree: number): Promise<boolean> {
    const windowMs = this.config.budgetWindowMs + budgetMarginMs(this.config.budgetWindowMs);
    const used = await this.ingest.countRequestsSince(nowMs - windowMs);
    return used <= this.config.requestsPerWindow - 1 - keptFree;
  }

  /** Validates and commits a page (with the closing cursor, for a closing pass); answers the stored cursor. */
  async commit(
    page: VendorPage,
    closing: ((distinct: number) => VendorCursor) | undefined,
  ): Promise<VendorCursor | undefined> {
    const rows = page.items.items.map((item, index) =>
      checkVendorRow(item, page.items.sources[index] ?? "", this.config.minorDigits),
    );
    const outcome = await this.ingest.commitPage({
      holderId: this.holderId,
      rows,
      currency: this.config.currency,
      fold: foldVendorFact,
      ...(closing === undefined ? {} : { closing }),
    });
    this.status.recordPage(outcome, rows);
    for (const row of rows) {
      if (row.type === "bad")
        this.logger.warn(
          { vendorId: row.record.vendorId, reason: row.record.reason, detail: row.record.detail },
          "vendor row quarantined",
        );
    }
    if (outcome.conflicts > 0 || outcome.overflows > 0) {
      this.logger.warn(
        { conflicts: outcome.conflicts, overflows: outcome.overflows },
        "vendor rows quarantined at apply",
      );
    }
    return outcome.cursor;
  }

  /** Commits a page read again and answers how many of its rows the ledger did not hold yet. */
  async commitRecovering(page: VendorPage): Promise<number> {
    const appliedBefore = this.status.rowsIngested;
    await this.commit(page, undefined);
    const recovered = this.status.rowsIngested - appliedBefore;
    this.status.rowsRecovered += recovered;
    return recovered;
  }

  /** Fetches one page, retrying until it succeeds or the poller stops; every attempt is budgeted. */
  async request(
    purpose: RequestPurpose,
    startMs: number,
    endMs: number,
    page: number,
    limit: number = this.config.pageSize,
  ): Promise<VendorPage | undefined> {
    for (let attempt = 0; !this.stopped; attempt += 1) {
      const reservationId = await this.acquireBudget();
      if (reservationId === undefined) return undefined;
      const { baseUrl, timeoutMs } = this.config;
      const outcome = await fetchPage({ baseUrl, startMs, endMs, page, limit, timeoutMs }, this.abort.signal);
      await this.settle(reservationId);
      this.status.requestsUsed += 1;
      this.status.requestsByPurpose[purpose] += 1;
      if (outcome.ok) {
        this.status.lastSuccessAtMs = this.clock();
        this.status.lastError = null;
        return outcome.page;
      }
      if (this.stopped) return undefined;
      this.status.retries += 1;
      this.status.lastError = `${outcome.kind}: ${outcome.detail}`;
      const { backoffBaseMs, backoffMaxMs } = this.config;
      const delayMs = backoffMs(attempt, backoffBaseMs, backoffMaxMs, this.random, outcome.retryAfterMs);
      this.logger.warn(
        { kind: outcome.kind, detail: outcome.detail, page, startMs, endMs, delayMs },
        "vendor request failed; backing off",
      );
      await this.sleep(delayMs);
    }
    return undefined;
  }

  /**
   * Waits for a slot in the persisted sliding-window budget and records the request in it;
   * answers the reservation's id, or undefined when the poller stopped. The slot is logged as in
   * flight until the timeout, and `request` settles it at the time the answer came back: the
   * vendor saw it no later. Spacing from the reservation's own time instead let a slow commit or
   * a stalled event loop between reserving and sending put two requests closer than the window
   * at the vendor (a 429 seen under CI load).
   */
  private async acquireBudget(): Promise<number | undefined> {
    const windowMs = this.config.budgetWindowMs + budgetMarginMs(this.config.budgetWindowMs);
    while (!this.stopped) {
      const nowMs = this.clock();
      const { requestsPerWindow, timeoutMs } = this.config;
      const inFlightUntilMs = nowMs + timeoutMs;
      const reservation = await this.ingest.reserveRequest(nowMs, requestsPerWindow, windowMs, inFlightUntilMs);
      if (reservation.granted) return reservation.id;
      await this.sleep(reservation.retryAtMs - nowMs);
    }
    return undefined;
  }

  /** A settle that fails leaves the in-flight time: later than the truth, so still safe. */
  private async settle(reservationId: number): Promise<void> {
    try {
      await this.ingest.settleRequest(reservationId, this.clock());
    } catch (error) {
      this.logger.warn(
        { err: error, reservationId },
        "vendor request not settled; its slot stays held until its timeout",
      );
    }
  }

  /** Resolves after `ms`, or at once when the poller stops. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.abort.signal.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * The poller's counters and their JSON-ready snapshot, for GET /healthz and logs.
 */
import type { CheckedRow, IngestStore, PageOutcome, VendorCursor } from "../store/ingest-port.js";
import type { VendorConfig } from "./config.js";
import type { PollMode } from "./plan.js";

export interface VendorPollerStatus {
  /** `standby`: another poller holds the lease on this database; this one waits to take over. */
  readonly state: "starting" | "standby" | "backfilling" | "following" | "stopped";
  readonly mode: PollMode;
  /**
   * How far behind the vendor's present the ingested data is, in milliseconds: now minus
   * `readUpTo`. A vendor with no new rows, fully read, has a lag of about the poll interval.
   */
  readonly lagMs: number;
  /** The end of the last complete read (a fresh pass read to its last page, or a closed window). */
  readonly readUpTo: string | null;
  /** The newest transaction's createdAt ever ingested; null before the first row. */
  readonly newestCreatedAt: string | null;
  readonly lastSuccessAt: string | null;
  /** Every window before this instant has been read completely after its lateness bound. */
  readonly closedUntil: string | null;
  /** Requests this process sent, retries included. */
  readonly requestsUsed: number;
  /**
   * The same requests by what they were for: `fresh` (newest data), `closing` (a window's read
   * after its lateness bound), `count` (a window closed by its count alone), `reconcileCount`
   * and `reconcileRead` (closed history), `task` (an operator's reopen or reconcile).
   */
  readonly requestsByPurpose: Readonly<Record<RequestPurpose, number>>;
  /** Requests in the persisted log within the current budget window (all processes). */
  readonly requestsInWindow: number;
  readonly requestsPerWindow: number;
  readonly budgetWindowMs: number;
  /** Rows appended as entries by this process. */
  readonly rowsIngested: number;
  /** Rows read again and skipped because their vendor id was already applied. */
  readonly rowsDuplicate: number;
  /** Bad rows this process put into quarantine for the first time. */
  readonly rowsQuarantined: number;
  /** Rows in the quarantine table, all time. */
  readonly quarantineTotal: number;
  readonly conflicts: number;
  readonly retries: number;
  readonly windowsClosed: number;
  readonly windowsReread: number;
  readonly windowsClosedUnverified: number;
  /** Windows closed by a count alone, their rows already read by fresh passes (each row read once). */
  readonly windowsClosedByCount: number;
  /** Closed ranges whose vendor count reconciliation found equal to the ledger's. */
  readonly rangesVerified: number;
  /** Closed ranges whose vendor count differed from the ledger's (each is narrowed down and re-read). */
  readonly rangesDiffering: number;
  /** Rows that appeared after their window closed, applied by reconciliation's re-reads and reopens. */
  readonly rowsRecovered: number;
  /** Requests queued by `npm run ingest -- --reopen` or `--reconcile` beside this poller that it carried out. */
  readonly reopensDone: number;
  readonly lastError: string | null;
}

export type RequestPurpose = "fresh" | "closing" | "count" | "reconcileCount" | "reconcileRead" | "task";

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export class PollerStatus {
  state: VendorPollerStatus["state"] = "starting";
  cursor: VendorCursor | undefined;
  lastSuccessAtMs: number | null = null;
  lastError: string | null = null;
  requestsUsed = 0;
  readonly requestsByPurpose: Record<RequestPurpose, number> = {
    fresh: 0,
    closing: 0,
    count: 0,
    reconcileCount: 0,
    reconcileRead: 0,
    task: 0,
  };
  rowsIngested = 0;
  rowsDuplicate = 0;
  rowsQuarantined = 0;
  conflicts = 0;
  retries = 0;
  windowsClosed = 0;
  windowsReread = 0;
  windowsClosedUnverified = 0;
  windowsClosedByCount = 0;
  rangesVerified = 0;
  rangesDiffering = 0;
  rowsRecovered = 0;
  reopensDone = 0;
  private newestCreatedAtMs: number | null = null;
  /** The end of the last fresh pass that read every page; closed windows count through the cursor. */
  private freshReadUpToMs: number | null = null;
  // Counted in the database by `refresh()`; -1 until the first count, or when the store is closed.
  private requestsInWindow = -1;
  private quarantineTotal = -1;

  constructor(
    private readonly config: VendorConfig,
    private readonly mode: PollMode,
  ) {}

  /** Recounts the database's request log and quarantine, for the next snapshots. */
  async refresh(ingest: IngestStore, nowMs: number): Promise<void> {
    try {
      this.requestsInWindow = await ingest.countRequestsSince(nowMs - this.config.budgetWindowMs);
      this.quarantineTotal = await ingest.countQuarantine();
    } catch {
      this.requestsInWindow = -1;
      this.quarantineTotal = -1;
    }
  }

  recordPage(outcome: PageOutcome, rows: readonly CheckedRow[]): void {
    this.rowsIngested += outcome.applied;
    this.rowsDuplicate += outcome.duplicates;
    this.rowsQuarantined += outcome.quarantined;
    this.conflicts += outcome.conflicts;
    for (const row of rows) {
      if (row.type === "fact" && outcome.applied > 0) {
        this.newestCreatedAtMs = Math.max(this.newestCreatedAtMs ?? row.fact.occurredAtMs, row.fact.occurredAtMs);
      }
    }
    if (outcome.cursor !== undefined) this.cursor = outcome.cursor;
  }

  /** A fresh pass read [start, endMs) to its last page. */
  recordCompleteRead(endMs: number): void {
    this.freshReadUpToMs = maxOf(this.freshReadUpToMs, endMs);
  }

  snapshot(nowMs: number): VendorPollerStatus {
    const newest = maxOf(this.newestCreatedAtMs, this.cursor?.newestCreatedAtMs ?? null);
    // Before any read completes, the cursor's closedUntil (the start, on a new database) is as
    // far as the ledger is known to be complete.
    const readUpToMs = maxOf(this.freshReadUpToMs, this.cursor?.closedUntilMs ?? null);
    const { requestsInWindow, quarantineTotal } = this;
    return {
      state: this.state,
      mode: this.mode,
      lagMs: readUpToMs === null ? nowMs - this.config.startMs : Math.max(0, nowMs - readUpToMs),
      readUpTo: iso(readUpToMs),
      newestCreatedAt: iso(newest),
      lastSuccessAt: iso(this.lastSuccessAtMs),
      closedUntil: iso(this.cursor?.closedUntilMs),
      requestsUsed: this.requestsUsed,
      requestsByPurpose: { ...this.requestsByPurpose },
      requestsInWindow,
      requestsPerWindow: this.config.requestsPerWindow,
      budgetWindowMs: this.config.budgetWindowMs,
      rowsIngested: this.rowsIngested,
      rowsDuplicate: this.rowsDuplicate,
      rowsQuarantined: this.rowsQuarantined,
      quarantineTotal,
      conflicts: this.conflicts,
      retries: this.retries,
      windowsClosed: this.windowsClosed,
      windowsReread: this.windowsReread,
      windowsClosedUnverified: this.windowsClosedUnverified,
      windowsClosedByCount: this.windowsClosedByCount,
      rangesVerified: this.rangesVerified,
      rangesDiffering: this.rangesDiffering,
      rowsRecovered: this.rowsRecovered,
      reopensDone: this.reopensDone,
      lastError: this.lastError,
    };
  }
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

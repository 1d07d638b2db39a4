/**
 * The vendor poller's port: its cursor, its request budget, the closing pass's seen set, the
 * quarantine, the page commit that applies vendor facts as entries, and the lease that keeps
 * one poller active per database. SQLite and PostgreSQL implement it; `src/ingest/` sees only
 * this file.
 *
 * A page's entries, its quarantined rows and the cursor that moves past them commit in one
 * transaction: a kill leaves either all of them or none. Exactly-once rests on a unique index
 * on `entries.external_id` and on looking the vendor id up before appending.
 */
import type { AccountState, EntryDraft } from "./store.js";

export type VendorEntryKind = "vendor_earned" | "vendor_spent" | "vendor_payout" | "vendor_paid_out";

/** A validated vendor transaction, in minor units of the poller's currency. */
export interface VendorFact {
  readonly externalId: string;
  readonly userId: string;
  readonly kind: VendorEntryKind;
  readonly amountMinor: bigint;
  readonly occurredAtMs: number;
}

export interface QuarantineRecord {
  /** SHA-256 of `raw`: the same bad row read twice is recorded once. */
  readonly fingerprint: string;
  readonly vendorId: string | null;
  readonly reason: string;
  readonly detail: string;
  /** The item's JSON exactly as the vendor sent it. */
  readonly raw: string;
}

/** One item of a page after validation. `identity` is the vendor id, or a hash of the raw text. */
export type CheckedRow =
  | {
      readonly type: "fact";
      readonly identity: string;
      readonly raw: string;
      readonly fingerprint: string;
      readonly fact: VendorFact;
    }
  | { readonly type: "bad"; readonly identity: string; readonly record: QuarantineRecord };

/** The domain's fold of one fact into an account: undefined when a total would leave int64. */
export type FoldFact = (
  state: AccountState | undefined,
  fact: VendorFact,
  atMs: number,
) => { readonly draft: EntryDraft; readonly next: AccountState } | undefined;

/** A closing pass over [startMs, endMs): read page by page, verified against the vendor's count. */
export interface ClosingPass {
  readonly startMs: number;
  readonly endMs: number;
  readonly nextPage: number;
  /** The vendor's totalItems on the first page read; null before it (and the seen set is then empty). */
  readonly totalItems: number | null;
  /** Set when a later page reported a different totalItems. */
  readonly dirty: boolean;
  /** Passes over this range already completed without verifying. */
  readonly attempts: number;
}

export interface VendorCursor {
  /** Every window before this instant has been read completely after its lateness bound. */
  readonly closedUntilMs: number;
  readonly pass: ClosingPass | null;
  readonly newestCreatedAtMs: number | null;
}

export interface PageCommit {
  /** The lease holder committing: the commit is refused with `LeaseLostError` unless it holds the lease. */
  readonly holderId: string;
  readonly rows: readonly CheckedRow[];
  readonly currency: string;
  readonly fold: FoldFact;
  /** For a closing pass: the cursor to store, given how many distinct rows the pass has seen. */
  readonly closing?: (distinctSeen: number) => VendorCursor;
}

export interface PageOutcome {
  readonly applied: number;
  readonly duplicates: number;
  /** Bad rows recorded for the first time (conflicts and overflows included). */
  readonly quarantined: number;
  readonly conflicts: number;
  readonly overflows: number;
  readonly cursor: VendorCursor | undefined;
}

/** `reopen`: read the range again; `reconcile`: count-check it against the vendor, writing nothing. */
export type RangeRequestKind = "reopen" | "reconcile";

/** A window whose vendor count differs from what the ledger holds, found by a count check. */
export interface RangeDifference {
  readonly start: string;
  readonly end: string;
  readonly vendorCount: number;
  readonly heldCount: number;
}

/** What a count check found: ranges equal to the vendor's count, ranges not, and the windows that differ. */
export interface RangeCheck {
  readonly rangesVerified: number;
  readonly rangesDiffering: number;
  readonly differences: readonly RangeDifference[];
}

/**
 * An operator's request about [startMs, endMs), queued by `npm run ingest -- --reopen` or
 * `--reconcile` when another process (the service) holds the poller lease; the holder carries
 * it out and marks it done.
 */
export interface ReopenRequest {
  readonly id: number;
  readonly kind: RangeRequestKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly requestedAtMs: number;
  /** When the lease holder finished it; null while it is queued. */
  readonly doneAtMs: number | null;
  /** Rows the re-read applied that the ledger did not hold (0 for a count check); null while queued. */
  readonly rowsRecovered: number | null;
  /** A `reconcile` request's findings; null while queued and for a reopen. */
  readonly check: RangeCheck | null;
}

/** A range's count difference that a re-read could not remove: vendor count minus held count. */
export interface AcceptedOffset {
  readonly startMs: number;
  readonly endMs: number;
  readonly offset: number;
}

/** A granted reservation names its row, so the caller can settle it when the request is done. */
export type Reservation =
  { readonly granted: true; readonly id: number } | { readonly granted: false; readonly retryAtMs: number };

export interface QuarantineRow extends QuarantineRecord {
  readonly seenCount: number;
  readonly firstSeenAtMs: number;
}

/**
 * Refused: the poller no longer holds the lease (another took it over after it expired). Nothing
 * of the refused write was applied; the poller must reload the cursor before writing again.
 */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(holderId: string) {
    super(`poller ${holderId} no longer holds the vendor lease`);
  }
}

export interface IngestStore {
  /** The stored cursor, created at `initialClosedUntilMs` on first use. */
  loadCursor(initialClosedUntilMs: number): Promise<VendorCursor>;
  /**
   * Takes or renews the single poller lease until `nowMs + ttlMs` when it is free, expired, or
   * already `holderId`'s; answers whether `holderId` holds it now.
   */
  acquireLease(holderId: string, nowMs: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holderId` holds it, so a successor need not wait for expiry. */
  releaseLease(holderId: string): Promise<void>;
  /**
   * Records a request in the log if fewer than `requestsMax` are logged after `nowMs - windowMs`;
   * the row is durable before the caller may send. Otherwise says when to ask again. The row is
   * logged at `inFlightUntilMs`, the latest the vendor can see a request still in flight (a
   * caller that dies mid-request leaves that conservative time), until `settleRequest`.
   */
  reserveRequest(nowMs: number, requestsMax: number, windowMs: number, inFlightUntilMs: number): Promise<Reservation>;
  /**
   * Logs request `id` at `doneAtMs`, when its answer (or failure) came back: the vendor received
   * it no later than that, so spacing the next request from it holds whatever delayed the send.
   */
  settleRequest(id: number, doneAtMs: number): Promise<void>;
  /** How many requests the log holds after `sinceMs`. */
  countRequestsSince(sinceMs: number): Promise<number>;
  /** Stores a new closing pass and forgets the rows the previous one saw; fenced by the lease. */
  startPass(cursor: VendorCursor, holderId: string): Promise<void>;
  /** Applies a page's facts, quarantines its bad rows and, for a closing pass, moves the cursor. */
  commitPage(page: PageCommit): Promise<PageOutcome>;
  /** The quarantine, oldest first, for operators and tests. */
  listQuarantine(limit?: number): Promise<QuarantineRow[]>;
  countQuarantine(): Promise<number>;
  /**
   * How many vendor rows the ledger holds with a createdAt in [startMs, endMs), counted the way
   * the vendor's `totalItems` counts them: applied entries plus quarantined rows, the latter
   * placed by `createdAtOf(raw)` (undefined: the row names no usable createdAt and is not
   * counted). Reconciliation compares it with the vendor's count of the same range.
   */
  countHeldRows(startMs: number, endMs: number, createdAtOf: (raw: string) => number | undefined): Promise<number>;
  /** Queues a reopen (or a count check) of [startMs, endMs) for the lease holder; answers its id. */
  queueReopen(startMs: number, endMs: number, nowMs: number, kind?: RangeRequestKind): Promise<number>;
  /** The oldest request not yet done, if any. */
  nextReopen(): Promise<ReopenRequest | undefined>;
  /** Marks a request done, with a count check's findings (again is harmless: the first finish stays). */
  finishReopen(id: number, nowMs: number, rowsRecovered: number, check?: RangeCheck): Promise<void>;
  /** One request by id, for the CLI waiting on it. */
  getReopen(id: number): Promise<ReopenRequest | undefined>;
  /** Every accepted count difference, for a poller starting. */
  loadAcceptedOffsets(): Promise<AcceptedOffset[]>;
  /**
   * Accepts `offset` for [startMs, endMs): it replaces what was accepted for the same range and
   * for ranges overlapping it partly; ranges inside it stay while `offset` is not 0 (theirs are
   * part of it) and go when it is; ranges around it stay. An offset of 0 is not stored.
   */
  acceptOffset(accepted: AcceptedOffset): Promise<void>;
}

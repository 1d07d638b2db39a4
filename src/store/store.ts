/**
 * The storage port: what the domain needs from a durable store, and nothing about how.
 *
 * SQLite (`./sqlite/`, the default) and PostgreSQL (`./postgres/`) implement it; `./open.ts`
 * picks one from the configuration. The store owns atomicity and durability; the rules that
 * decide what a mutation does come from the domain as a pure `decide` function that the store
 * runs inside its write transaction, against the account state it has just read. No rule is
 * written in SQL.
 */
import type { IngestStore } from "./ingest-port.js";

/** One account: a user's position in one currency. */
export interface AccountKey {
  readonly userId: string;
  readonly currency: string;
}

/**
 * The cached position of one account, kept equal to the fold of its entries in the same
 * transaction that appends them. Money in minor units.
 */
export interface AccountState {
  readonly balance: bigint;
  readonly earned: bigint;
  readonly spent: bigint;
  readonly payoutRequested: bigint;
  readonly paidOut: bigint;
  readonly loaded: bigint;
  readonly authorized: bigint;
  readonly declinedCount: bigint;
  readonly entryCount: bigint;
  /** Reserved by active holds: the fold of the entries' `heldDelta`. Available = balance - held. */
  readonly held: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface Account extends AccountKey, AccountState {}

/** What an entry records. The vendor kinds arrive through the vendor poller. */
export type EntryKind =
  | "load"
  | "authorize"
  | "adjust"
  | "vendor_earned"
  | "vendor_spent"
  | "vendor_payout"
  | "vendor_paid_out"
  | "hold"
  | "hold_capture"
  | "hold_void"
  | "hold_expire";

export const ENTRY_KINDS: readonly EntryKind[] = [
  "load",
  "authorize",
  "adjust",
  "vendor_earned",
  "vendor_spent",
  "vendor_payout",
  "vendor_paid_out",
  "hold",
  "hold_capture",
  "hold_void",
  "hold_expire",
];

/** Whether entries of this kind belong to a hold (and may move the held amount). */
export function isHoldKind(kind: EntryKind): boolean {
  return kind === "hold" || kind === "hold_capture" || kind === "hold_void" || kind === "hold_expire";
}

/** `declined` entries record an authorization that moved no money. */
export type EntryStatus = "applied" | "declined";

/** The part of an entry that the domain decides. */
export interface EntryDraft {
  readonly kind: EntryKind;
  readonly status: EntryStatus;
  /** The amount asked for: positive, except for adjustments, which are signed. */
  readonly amount: bigint;
  /** What the entry changed the balance by: 0 when declined and for requested payouts. */
  readonly delta: bigint;
  /** What the entry changed the held amount by (hold entries only); absent means 0. */
  readonly heldDelta?: bigint;
}

/** An entry as stored: append-only, never updated or deleted. */
export interface Entry extends AccountKey, EntryDraft {
  readonly id: bigint;
  readonly balanceAfter: bigint;
  readonly idempotencyKey: string | null;
  /** The vendor's transaction id, for vendor entries. */
  readonly externalId: string | null;
  /** When the fact happened: the vendor's createdAt, or the time of recording. */
  readonly occurredAtMs: number;
  readonly createdAtMs: number;
  /** For a leg of a group mutation: the id of the group's first entry. Absent otherwise. */
  readonly groupId?: bigint;
  /** For the entries of a hold: the hold's id, which is the id of the entry that placed it. */
  readonly holdId?: bigint;
  /** The account's held amount after this entry; absent when it was 0 and the entry no hold's. */
  readonly heldAfter?: bigint;
}

/** What an account may do: active (everything), frozen (credits only), closed (nothing). */
export type AccountStatus = "active" | "frozen" | "closed";

/** The risk team's settings for one account, enforced in the write path. */
export interface AccountPolicy {
  /** How far below zero debits may take the balance, in minor units; 0 by default. */
  readonly overdraftLimit: bigint;
  readonly state: AccountStatus;
}

/** The policy of an account nobody set one for. */
export const DEFAULT_POLICY: AccountPolicy = { overdraftLimit: 0n, state: "active" };

export interface AccountPolicyRow extends AccountKey, AccountPolicy {
  readonly updatedAtMs: number;
}

/** Where a hold stands. Only an active hold reserves money. */
export type HoldStatus = "active" | "captured" | "voided" | "expired";

/** The part of a hold that its entries change. */
export interface HoldState {
  /** Reserved at authorization, in minor units. */
  readonly amount: bigint;
  /** Captured so far; may pass `amount` by the over-capture tolerance. */
  readonly captured: bigint;
  readonly status: HoldStatus;
  readonly expiresAtMs: number;
}

/** A hold as stored: its id is the id of the entry that placed it. */
export interface Hold extends AccountKey, HoldState {
  readonly holdId: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** The domain's verdict on one mutation, given the account as it stands. */
export type Verdict<Reason extends string> =
  | {
      readonly type: "post";
      readonly entry: EntryDraft;
      readonly next: AccountState;
      /**
       * The hold this entry places (a mutation without `holdId`) or the state it leaves the
       * mutation's hold in. Absent for entries that are no hold's.
       */
      readonly hold?: HoldState;
    }
  | { readonly type: "reject"; readonly reason: Reason };

/** One mutation for the store to run atomically: look up the key, read, decide, append. */
export interface Mutation<Reason extends string> {
  readonly account: AccountKey;
  /** Scoped to `account.userId`; `null` makes every call a new mutation. */
  readonly idempotencyKey: string | null;
  /**
   * The hold this mutation acts on (capture, void, expiry): the store reads it in the write
   * transaction, under the account's lock, and passes it to `decide`.
   */
  readonly holdId?: bigint;
  /**
   * Pure: called inside the write transaction with the current state, the commit time, the
   * account's policy and (when `holdId` is set) the hold, all read in the same transaction.
   */
  decide(
    current: AccountState | undefined,
    nowMs: number,
    policy: AccountPolicy,
    hold: Hold | undefined,
  ): Verdict<Reason>;
}

/**
 * The outcome of a mutation. `existing` means the user already used the idempotency key: the
 * store returns that entry untouched and the domain decides whether this is a replay or a reuse.
 */
export type MutationResult<Reason extends string> =
  | {
      readonly type: "applied";
      readonly entry: Entry;
      readonly before: AccountState | undefined;
      readonly after: AccountState;
    }
  | { readonly type: "existing"; readonly entry: Entry }
  | {
      readonly type: "rejected";
      readonly reason: Reason;
      readonly current: AccountState | undefined;
      readonly policy: AccountPolicy;
      /** The mutation's hold as read in the transaction, when it named one. */
      readonly hold?: Hold;
    };

/** One leg of a group: the entry the domain decided for one account and that account's next state. */
export interface GroupLeg {
  readonly account: AccountKey;
  readonly entry: EntryDraft;
  readonly next: AccountState;
  /**
   * The hold this leg places (`holdId` null: its id will be the leg's entry id) or the state it
   * leaves one of the group's `holdIds` in. Absent for legs that are no hold's.
   */
  readonly hold?: { readonly holdId: bigint | null; readonly state: HoldState };
}

/** The domain's verdict on a group mutation: every leg is appended, or none. */
export type GroupVerdict<Reason extends string> =
  { readonly type: "post"; readonly legs: readonly GroupLeg[] } | { readonly type: "reject"; readonly reason: Reason };

/**
 * A mutation over several accounts that the store applies atomically: one transaction, all the
 * legs or none. PostgreSQL locks every user it names in the same sorted order as any other
 * write; SQLite applies it whole or not at all within its group commit. Each leg's account must
 * appear in `accounts` once, and the first leg carries the idempotency key, so it must belong to
 * `idempotency.userId`.
 */
export interface GroupMutation<Reason extends string> {
  /** Every account the decision reads or writes; no account twice. */
  readonly accounts: readonly AccountKey[];
  /** Scoped to `userId`; `null` makes every call a new mutation. */
  readonly idempotency: { readonly userId: string; readonly key: string } | null;
  /**
   * The holds the decision acts on (a batch's captures and voids): the store reads them in the
   * write transaction, under the locks of `accounts`, and passes them to `decide` in this order.
   */
  readonly holdIds?: readonly bigint[];
  /**
   * Pure: the states and policies of `accounts`, in the same order, the commit time, and the
   * holds of `holdIds` in their order (undefined where no such hold exists).
   */
  decide(
    current: readonly (AccountState | undefined)[],
    nowMs: number,
    policies: readonly AccountPolicy[],
    holds: readonly (Hold | undefined)[],
  ): GroupVerdict<Reason>;
  /**
   * For a batch (ApplyBatch): the canonical digest of its items, stored with the group in the
   * same transaction, so that a keyed replay is compared item for item and a batch's group is
   * told from a transfer's. Absent for other groups.
   */
  readonly batchDigest?: string;
}

/**
 * The outcome of a group mutation. The entries are the group's legs in order; `groupId` is the
 * id of its first entry, stored on every leg. `existing` returns the group first recorded under
 * the idempotency key (or the lone entry, with `groupId` null, when the key named one).
 */
export type GroupResult<Reason extends string> =
  | {
      readonly type: "applied";
      readonly groupId: bigint;
      readonly entries: readonly Entry[];
      readonly before: readonly (AccountState | undefined)[];
    }
  | {
      readonly type: "existing";
      readonly groupId: bigint | null;
      readonly entries: readonly Entry[];
      /** The stored `batchDigest` when the group is a batch's. */
      readonly batchDigest?: string;
    }
  | {
      readonly type: "rejected";
      readonly reason: Reason;
      readonly current: readonly (AccountState | undefined)[];
      readonly policies: readonly AccountPolicy[];
      /** The holds of `holdIds` as read in the transaction, and the commit time it decided at. */
      readonly holds?: readonly (Hold | undefined)[];
      readonly nowMs?: number;
    };

/** One user's outstanding requested payout in one currency. */
export interface PayoutRow extends AccountKey {
  readonly requested: bigint;
  readonly paidOut: bigint;
  readonly updatedAtMs: number;
}

export interface PayoutQuery {
  readonly userId?: string;
  readonly currency?: string;
  /** Keyset pagination: rows strictly after this account in (userId, currency) order. */
  readonly after?: AccountKey;
  readonly limit: number;
}

/** Which way a history page runs, by entry id. */
export type EntryOrder = "newest_first" | "oldest_first";

/**
 * One page of a user's history. Keyset pagination on the entry id: a user's entries get
 * increasing ids in the order they commit (both stores append a user's entries under that
 * user's write lock), so a page that starts after an id neither skips nor repeats an entry
 * while others are written.
 */
export interface EntryQuery {
  readonly userId: string;
  readonly currency?: string;
  /** Entries recorded at or after this instant (created_at_ms). */
  readonly fromMs?: number;
  /** Entries recorded before this instant. */
  readonly toMs?: number;
  /** Only these kinds; undefined means every kind. */
  readonly kinds?: readonly EntryKind[];
  readonly order: EntryOrder;
  /** Entries strictly beyond this id in `order`. */
  readonly afterId?: bigint;
  readonly limit: number;
}

/**
 * The sums of one account's entries of one kind, status and amount sign: everything the domain
 * needs to fold the account's aggregates without reading each entry (the fold is linear).
 */
export interface EntryTotal {
  readonly kind: EntryKind;
  readonly status: EntryStatus;
  /** Whether these entries' amounts are positive (adjustments come in both signs). */
  readonly positive: boolean;
  readonly amount: bigint;
  readonly delta: bigint;
  readonly count: bigint;
}

/** A slice of the whole ledger, for export: every user's entries (or one's), in id order. */
export interface EntryScan {
  readonly userId?: string;
  /** Entries recorded at or after this instant (created_at_ms). */
  readonly fromMs?: number;
  /** Entries recorded before this instant. */
  readonly toMs?: number;
  /** Entries with a greater id. */
  readonly afterId: bigint;
  /** Entries with this id or a smaller one: the live stream reads up to the feed's horizon. */
  readonly throughId?: bigint;
  /** With `userId`: only this currency. */
  readonly currency?: string;
  readonly limit: number;
}

/**
 * Where the live entry stream may read up to. The horizon is an entry id such that every entry
 * at or below it is durable and visible to reads, and no entry with a lower id can appear later:
 * a consumer that reads in id order up to the horizon, then waits for it to move, misses nothing
 * and sees nothing twice. SQLite moves it after each durable group commit; PostgreSQL, where
 * ids are not assigned in commit order, moves it once every transaction that could still hold a
 * lower id has ended (see `postgres/private/stream-horizon.ts`).
 */
export interface EntryFeed {
  /** The newest horizon known, without asking the database. */
  readonly horizonId: bigint;
  /** The horizon read from the database now (the stream's starting point for "now"). */
  currentHorizon(): Promise<bigint>;
  /** The highest entry id recorded, committed or not: a cursor above it names no entry. */
  latestId(): Promise<bigint>;
  /**
   * Resolves with the horizon once it is above `afterId`, or with the horizon as it stands when
   * `signal` aborts or the feed closes. Never rejects.
   */
  waitPast(afterId: bigint, signal: AbortSignal): Promise<bigint>;
  /**
   * Reads the horizon from the database now (one probe, shared with any in flight) and answers
   * the newest known: `horizonId` moves only while some stream waits, so a stream that is not
   * waiting (its consumer stopped taking entries) asks here. Never rejects.
   */
  refreshHorizon(): Promise<bigint>;
}

export interface LedgerStore {
  /**
   * Runs one mutation in a write transaction and resolves only once that transaction is
   * durable (per the configured durability). Rejects with `StoreUnavailableError` when the
   * store cannot commit and `StoreOverloadedError` when its write queue is full.
   */
  mutate<Reason extends string>(mutation: Mutation<Reason>): Promise<MutationResult<Reason>>;
  /** Runs a multi-account mutation atomically, with the same durability and errors as `mutate`. */
  mutateGroup<Reason extends string>(mutation: GroupMutation<Reason>): Promise<GroupResult<Reason>>;
  /**
   * Sets an account's policy, serialized with the account's writes: every mutation committed
   * after this resolves is decided under it. Durable like `mutate`.
   */
  setPolicy(account: AccountKey, policy: AccountPolicy): Promise<AccountPolicyRow>;
  /** The policies set for the user's accounts (accounts without one have `DEFAULT_POLICY`). */
  getPolicies(userId: string, currency?: string): Promise<AccountPolicyRow[]>;
  /** Every account of the user, ordered by currency; one when `currency` is given. */
  getAccounts(userId: string, currency?: string): Promise<Account[]>;
  /** Accounts whose requested payouts exceed what was paid out, in (userId, currency) order. */
  listOutstandingPayouts(query: PayoutQuery): Promise<PayoutRow[]>;
  /** A page of one user's entries, in `query.order` by id. */
  listEntries(query: EntryQuery): Promise<Entry[]>;
  /** Up to `scan.limit` entries after `scan.afterId`, in id order: export reads the ledger in such pages. */
  scanEntries(scan: EntryScan): Promise<Entry[]>;
  /** The entry with this id, or undefined. */
  getEntry(id: bigint): Promise<Entry | undefined>;
  /** The hold with this id, or undefined. */
  getHold(holdId: bigint): Promise<Hold | undefined>;
  /**
   * Up to `limit` active holds in expiry order (earliest first): the expiry sweeper releases the
   * ones due and sleeps until the next.
   */
  activeHoldsByExpiry(limit: number): Promise<Hold[]>;
  /**
   * The account's last entry recorded at or before `asOfMs`, in (created_at_ms, id) order: one
   * index seek. Recording times follow id order within an account, since a user's entries are
   * appended under that user's lock with the time read after taking it.
   */
  lastEntryAsOf(key: AccountKey, asOfMs: number): Promise<Entry | undefined>;
  /**
   * The account's entries with id above `afterId` and at most `throughId`, summed by kind,
   * status and amount sign.
   */
  entryTotals(key: AccountKey, afterId: bigint, throughId: bigint): Promise<EntryTotal[]>;
  /**
   * Runs `read` over every entry (in id order) and every account (in key order) taken at one
   * instant, for `verify`, with the leg count of every batch by its group id. The iterables are
   * valid only during the call.
   */
  withSnapshot<T>(
    read: (entries: Iterable<Entry>, accounts: Iterable<Account>, batches: ReadonlyMap<bigint, bigint>) => T,
  ): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** How many mutations wait for a commit in this process. */
  readonly writeQueueDepth: number;
  /** The vendor poller's part of the same database. */
  readonly ingest: IngestStore;
  /** The live stream's horizon (issue 12). */
  readonly feed: EntryFeed;
  /** Finishes queued writes, then closes. */
  close(): Promise<void>;
}

/**
 * Told about every write batch a store commits, for metrics. The SQLite group commit calls it
 * and a batching PostgreSQL store should too, so that dashboards read the same figures whatever
 * the store. Called on the write path once per batch (not per mutation): it must be cheap and
 * must not throw.
 */
export interface WriteBatchObserver {
  /**
   * A batch committed: how many mutations it held, how long its whole transaction took and how
   * long its COMMIT (the flush to disk) took, in milliseconds.
   */
  batchCommitted(mutations: number, transactionMs: number, commitMs: number): void;
}

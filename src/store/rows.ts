/**
 * Row shapes of the schema (the same on SQLite and PostgreSQL) and their conversion to the
 * store's types. Integers are read
 * as `bigint` (safe integers on), so money never passes through a float.
 */
import { isHoldKind } from "./store.js";
import type {
  Account,
  AccountPolicy,
  AccountPolicyRow,
  Entry,
  EntryKind,
  EntryStatus,
  EntryTotal,
  Hold,
  HoldStatus,
  PayoutRow,
} from "./store.js";
import type { ClosingPass, RangeCheck, RangeDifference, ReopenRequest, VendorCursor } from "./ingest-port.js";

export interface AccountRow {
  user_id: string;
  currency: string;
  balance: bigint;
  earned: bigint;
  spent: bigint;
  payout_requested: bigint;
  paid_out: bigint;
  loaded: bigint;
  authorized: bigint;
  declined_count: bigint;
  entry_count: bigint;
  /** Absent before the holds migration's reads. */
  held?: bigint;
  created_at_ms: bigint;
  updated_at_ms: bigint;
}

export interface EntryRow {
  id: bigint;
  user_id: string;
  currency: string;
  kind: EntryKind;
  status: EntryStatus;
  amount: bigint;
  delta: bigint;
  balance_after: bigint;
  idempotency_key: string | null;
  external_id: string | null;
  /** Set on the legs of a group mutation (absent before the entry-groups migration's reads). */
  group_id?: bigint | null;
  hold_id?: bigint | null;
  held_delta?: bigint;
  held_after?: bigint;
  occurred_at_ms: bigint;
  created_at_ms: bigint;
}

export function toAccount(row: AccountRow): Account {
  return {
    userId: row.user_id,
    currency: row.currency,
    balance: row.balance,
    earned: row.earned,
    spent: row.spent,
    payoutRequested: row.payout_requested,
    paidOut: row.paid_out,
    loaded: row.loaded,
    authorized: row.authorized,
    declinedCount: row.declined_count,
    entryCount: row.entry_count,
    held: row.held ?? 0n,
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
  };
}

export function toEntry(row: EntryRow): Entry {
  return {
    id: row.id,
    userId: row.user_id,
    currency: row.currency,
    kind: row.kind,
    status: row.status,
    amount: row.amount,
    delta: row.delta,
    balanceAfter: row.balance_after,
    idempotencyKey: row.idempotency_key,
    externalId: row.external_id,
    occurredAtMs: Number(row.occurred_at_ms),
    createdAtMs: Number(row.created_at_ms),
    ...(row.group_id === null || row.group_id === undefined ? {} : { groupId: row.group_id }),
    ...entryHoldFields(row.kind, row.hold_id ?? null, row.held_delta ?? 0n, row.held_after ?? 0n),
  };
}

/**
 * The hold fields of an entry, only where they say something: entries of other kinds written
 * while no money was held read exactly as before holds existed. Both stores build appended
 * entries with it too, so an entry reads back as it was returned.
 */
export function entryHoldFields(
  kind: EntryKind,
  holdId: bigint | null,
  heldDelta: bigint,
  heldAfter: bigint,
): Pick<Entry, "holdId" | "heldDelta" | "heldAfter"> {
  const fields: { holdId?: bigint; heldDelta?: bigint; heldAfter?: bigint } = {};
  if (holdId !== null) fields.holdId = holdId;
  if (isHoldKind(kind)) fields.heldDelta = heldDelta;
  if (isHoldKind(kind) || heldAfter !== 0n) fields.heldAfter = heldAfter;
  return fields;
}

export interface HoldRow {
  hold_id: bigint;
  user_id: string;
  currency: string;
  amount: bigint;
  captured: bigint;
  status: HoldStatus;
  expires_at_ms: bigint;
  created_at_ms: bigint;
  updated_at_ms: bigint;
}

/** PostgreSQL reads BIGINT as bigint through the pool's parser; SQLite with safe integers on. */
export function toHold(row: HoldRow): Hold {
  return {
    holdId: BigInt(row.hold_id),
    userId: row.user_id,
    currency: row.currency,
    amount: BigInt(row.amount),
    captured: BigInt(row.captured),
    status: row.status,
    expiresAtMs: Number(row.expires_at_ms),
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
  };
}

export function toPayout(row: AccountRow): PayoutRow {
  return {
    userId: row.user_id,
    currency: row.currency,
    requested: row.payout_requested,
    paidOut: row.paid_out,
    updatedAtMs: Number(row.updated_at_ms),
  };
}

/** A group of `entryTotals`. PostgreSQL sums bigint into numeric, which arrives as a string. */
export interface TotalRow {
  kind: EntryKind;
  status: EntryStatus;
  positive: bigint | boolean;
  amount: bigint | string;
  delta: bigint | string;
  count: bigint | string;
}

export function toTotal(row: TotalRow): EntryTotal {
  return {
    kind: row.kind,
    status: row.status,
    positive: row.positive === true || row.positive === 1n,
    amount: BigInt(row.amount),
    delta: BigInt(row.delta),
    count: BigInt(row.count),
  };
}

export interface PolicyRow {
  user_id: string;
  currency: string;
  overdraft_limit: bigint;
  state: AccountPolicy["state"];
  updated_at_ms: bigint;
}

export function toPolicyRow(row: PolicyRow): AccountPolicyRow {
  return {
    userId: row.user_id,
    currency: row.currency,
    overdraftLimit: row.overdraft_limit,
    state: row.state,
    updatedAtMs: Number(row.updated_at_ms),
  };
}

/** The vendor poller's one cursor row. */
export interface CursorRow {
  closed_until_ms: bigint;
  pass_start_ms: bigint | null;
  pass_end_ms: bigint | null;
  pass_next_page: bigint | null;
  pass_total_items: bigint | null;
  pass_dirty: bigint;
  pass_attempts: bigint;
  newest_created_at_ms: bigint | null;
}

const toNumberOrNull = (value: bigint | null): number | null => (value === null ? null : Number(value));

export function toVendorCursor(row: CursorRow): VendorCursor {
  const pass: ClosingPass | null =
    row.pass_start_ms === null || row.pass_end_ms === null
      ? null
      : {
          startMs: Number(row.pass_start_ms),
          endMs: Number(row.pass_end_ms),
          nextPage: Number(row.pass_next_page ?? 1n),
          totalItems: toNumberOrNull(row.pass_total_items),
          dirty: row.pass_dirty !== 0n,
          attempts: Number(row.pass_attempts),
        };
  return {
    closedUntilMs: Number(row.closed_until_ms),
    pass,
    newestCreatedAtMs: toNumberOrNull(row.newest_created_at_ms),
  };
}

/** A `vendor_reopen_requests` row as either driver returns it (bigint or number columns). */
export interface ReopenRow {
  id: bigint | number;
  start_ms: bigint | number;
  end_ms: bigint | number;
  requested_at_ms: bigint | number;
  done_at_ms: bigint | number | null;
  rows_recovered: bigint | number | null;
  kind: string;
  ranges_verified: bigint | number | null;
  ranges_differing: bigint | number | null;
  differences: string | null;
}

export function toReopenRequest(row: ReopenRow): ReopenRequest {
  return {
    id: Number(row.id),
    startMs: Number(row.start_ms),
    endMs: Number(row.end_ms),
    requestedAtMs: Number(row.requested_at_ms),
    doneAtMs: row.done_at_ms === null ? null : Number(row.done_at_ms),
    rowsRecovered: row.rows_recovered === null ? null : Number(row.rows_recovered),
    kind: row.kind === "reconcile" ? "reconcile" : "reopen",
    check: toRangeCheck(row),
  };
}

function toRangeCheck(row: ReopenRow): RangeCheck | null {
  if (row.ranges_verified === null || row.ranges_differing === null || row.differences === null) return null;
  // Written by the store from a RangeCheck: an array of plain objects.
  const differences = JSON.parse(row.differences) as RangeDifference[];
  return { rangesVerified: Number(row.ranges_verified), rangesDiffering: Number(row.ranges_differing), differences };
}

/** A count check as the three columns a finish sets besides done_at_ms and rows_recovered. */
export function rangeCheckColumns(check: RangeCheck | undefined): [number | null, number | null, string | null] {
  if (check === undefined) return [null, null, null];
  return [check.rangesVerified, check.rangesDiffering, JSON.stringify(check.differences)];
}

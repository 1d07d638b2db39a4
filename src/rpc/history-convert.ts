/**
 * Conversion of the history calls between wire and domain: ListEntries requests become plain
 * values for `parseEntryListing`, and entries become `LedgerEntry` messages. Enum mapping lives
 * here, in one table per enum, so the domain never sees a protobuf value.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { RawEntryListing } from "../domain/history.js";
import type { Entry, EntryKind as DomainEntryKind } from "../store/store.js";
import {
  EntryKind,
  EntryOrder,
  EntryStatus,
  LedgerEntrySchema,
  type LedgerEntry,
  type ListEntriesRequest,
} from "../../gen/ledger/v1/ledger_pb.js";

const KINDS_TO_WIRE: ReadonlyMap<DomainEntryKind, EntryKind> = new Map([
  ["load", EntryKind.LOAD],
  ["authorize", EntryKind.AUTHORIZE],
  ["adjust", EntryKind.ADJUST],
  ["vendor_earned", EntryKind.VENDOR_EARNED],
  ["vendor_spent", EntryKind.VENDOR_SPENT],
  ["vendor_payout", EntryKind.VENDOR_PAYOUT],
  ["vendor_paid_out", EntryKind.VENDOR_PAID_OUT],
  ["hold", EntryKind.HOLD],
  ["hold_capture", EntryKind.HOLD_CAPTURE],
  ["hold_void", EntryKind.HOLD_VOID],
  ["hold_expire", EntryKind.HOLD_EXPIRE],
]);

const KINDS_FROM_WIRE: ReadonlyMap<EntryKind, DomainEntryKind> = new Map(
  [...KINDS_TO_WIRE].map(([domain, wire]) => [wire, domain]),
);

/** Timestamps beyond this many milliseconds from 1970 cannot be an entry's time: clamp them. */
const TIME_MS_LIMIT = 8.64e15;

/** A wire instant in milliseconds, clamped to the range an entry's time can have. */
export function timeMs(timestamp: Timestamp): number {
  return Math.max(-TIME_MS_LIMIT, Math.min(TIME_MS_LIMIT, Math.floor(timestampMs(timestamp))));
}

function toMs(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : timeMs(timestamp);
}

export function toRawEntryListing(request: ListEntriesRequest): RawEntryListing {
  const fromMs = toMs(request.startTime);
  const toMsValue = toMs(request.endTime);
  return {
    userId: request.userId,
    currency: request.currency,
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMsValue === undefined ? {} : { toMs: toMsValue }),
    kinds: request.kinds.map((kind) => KINDS_FROM_WIRE.get(kind)),
    order: request.order === EntryOrder.OLDEST_FIRST ? "oldest_first" : "newest_first",
    pageSize: request.pageSize,
    pageToken: request.pageToken,
  };
}

export function toLedgerEntry(entry: Entry): LedgerEntry {
  return create(LedgerEntrySchema, {
    id: entry.id,
    userId: entry.userId,
    currency: entry.currency,
    kind: KINDS_TO_WIRE.get(entry.kind) ?? EntryKind.UNSPECIFIED,
    status: entry.status === "applied" ? EntryStatus.APPLIED : EntryStatus.DECLINED,
    amount: entry.amount,
    delta: entry.delta,
    balanceAfter: entry.balanceAfter,
    idempotencyKey: entry.idempotencyKey ?? "",
    vendorId: entry.externalId ?? "",
    occurredAt: timestampFromMs(entry.occurredAtMs),
    createdAt: timestampFromMs(entry.createdAtMs),
    holdId: entry.holdId ?? 0n,
    heldDelta: entry.heldDelta ?? 0n,
    heldAfter: entry.heldAfter ?? 0n,
  });
}

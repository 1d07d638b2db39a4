/**
 * Validation of one vendor transaction into a ledger fact, or into a quarantine record that
 * says why not. This is the one place where vendor JSON becomes trusted; nothing here throws,
 * because one bad row must never stop the rows around it.
 */
import { createHash } from "node:crypto";
import { checkUserId, Violations } from "../domain/validate.js";
import type { CheckedRow, VendorEntryKind, VendorFact } from "../store/ingest-port.js";
import { decimalToMinor } from "./decimal.js";
import { isJsonObject, JsonNumber, type JsonValue } from "./exact-json.js";

/** Longest vendor id kept: ids are opaque strings, not always UUIDs, but never essays. */
export const VENDOR_ID_LENGTH_MAX = 256;

const KINDS: ReadonlyMap<string, VendorEntryKind> = new Map([
  ["earned", "vendor_earned"],
  ["spent", "vendor_spent"],
  ["payout", "vendor_payout"],
  ["paid_out", "vendor_paid_out"],
  // The vendor's documentation spells it both ways.
  ["paid out", "vendor_paid_out"],
]);

/** The entry kind of a vendor `type`, or undefined for a type we do not know. */
export function entryKindOf(type: string): VendorEntryKind | undefined {
  return KINDS.get(type);
}

// ISO 8601 as the vendor writes it: a date, a time, optional fraction, and an explicit zone.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** The widest UTC offset in use anywhere (Kiribati, +14:00), in minutes. */
const OFFSET_MINUTES_MAX = 14 * 60;

/**
 * Milliseconds since the epoch of an ISO 8601 instant, or undefined if it is not one. Years
 * 0000–9999 read as written (Date.UTC would map 0–99 to 1900–1999), every field must be in its
 * range, and the offset within ±14:00.
 */
export function parseInstantMs(text: string): number | undefined {
  const match = ISO_INSTANT.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction = "", zone = "Z"] = match.map((part) => part ?? "");
  const fields = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = fields;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, Number(fraction.padEnd(3, "0").slice(0, 3)));
  // setUTCFullYear rolls 31 February over into March; a real date survives the round trip.
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutesPart = Number(zone.slice(4, 6));
    if (offsetMinutesPart > 59) return undefined;
    offsetMinutes = offsetHours * 60 + offsetMinutesPart;
    if (offsetMinutes > OFFSET_MINUTES_MAX) return undefined;
    if (zone.startsWith("-")) offsetMinutes = -offsetMinutes;
  }
  return date.getTime() - offsetMinutes * 60_000;
}

export function fingerprintOf(raw: string): string {
  return createHash("sha256").update(raw).digest("hex");
}

/** Checks one item of a page; `raw` is its exact source text, kept for quarantine. */
export function checkVendorRow(item: JsonValue, raw: string, minorDigits: number): CheckedRow {
  const fingerprint = fingerprintOf(raw);
  if (!isJsonObject(item))
    return bad(null, `raw:${fingerprint}`, raw, fingerprint, ["not_an_object"], "the row is not a JSON object");
  const field = (name: string) => item.fields.get(name);
  const id = field("id");
  const vendorId = typeof id === "string" && id.length > 0 && id.length <= VENDOR_ID_LENGTH_MAX ? id : null;
  const identity = vendorId ?? `raw:${fingerprint}`;
  const reasons: string[] = [];
  const details: string[] = [];
  const problem = (reason: string, detail: string) => {
    reasons.push(reason);
    details.push(detail);
  };
  if (item.duplicateKeys.length > 0)
    problem("duplicate_field", `fields appear twice: ${item.duplicateKeys.join(", ")}`);
  if (vendorId === null)
    problem(
      id === undefined ? "missing_id" : "bad_id",
      `id must be a string of 1 to ${VENDOR_ID_LENGTH_MAX} characters`,
    );

  const userId = field("userId");
  if (typeof userId !== "string") {
    problem(
      userId === undefined ? "missing_user_id" : "bad_user_id",
      "userId must be a string (it may have leading zeros)",
    );
  } else {
    const violations = new Violations();
    checkUserId(violations, userId, "userId");
    for (const violation of violations.list) problem("bad_user_id", violation.description);
  }

  const type = field("type");
  const kind = typeof type === "string" ? entryKindOf(type) : undefined;
  if (kind === undefined)
    problem(
      type === undefined ? "missing_type" : "bad_type",
      `type ${JSON.stringify(type ?? null)} is not earned, spent, payout or paid_out`,
    );

  const amount = field("amount");
  let amountMinor: bigint | undefined;
  if (!(amount instanceof JsonNumber)) {
    problem(amount === undefined ? "missing_amount" : "bad_amount", "amount must be a JSON number");
  } else {
    const converted = decimalToMinor(amount.text, minorDigits);
    if (converted.ok) amountMinor = converted.minor;
    else problem(`amount_${converted.reason}`, converted.detail);
  }

  const createdAt = field("createdAt");
  const occurredAtMs = typeof createdAt === "string" ? parseInstantMs(createdAt) : undefined;
  if (occurredAtMs === undefined)
    problem(createdAt === undefined ? "missing_created_at" : "bad_created_at", "createdAt must be an ISO 8601 instant");

  if (
    reasons.length > 0 ||
    vendorId === null ||
    typeof userId !== "string" ||
    kind === undefined ||
    amountMinor === undefined ||
    occurredAtMs === undefined
  ) {
    return bad(vendorId, identity, raw, fingerprint, reasons, details.join("; "));
  }
  const fact: VendorFact = { externalId: vendorId, userId, kind, amountMinor, occurredAtMs };
  return { type: "fact", identity, raw, fingerprint, fact };
}

function bad(
  vendorId: string | null,
  identity: string,
  raw: string,
  fingerprint: string,
  reasons: string[],
  detail: string,
): CheckedRow {
  return { type: "bad", identity, record: { fingerprint, vendorId, reason: reasons[0] ?? "invalid", detail, raw } };
}

/**
 * The createdAt a raw vendor item names, for placing a quarantined row in a date range the way
 * the vendor counts it; undefined when the text is not an object with a readable createdAt.
 */
export function createdAtOfRaw(raw: string): number | undefined {
  try {
    const item: unknown = JSON.parse(raw);
    if (typeof item !== "object" || item === null) return undefined;
    const createdAt = (item as { createdAt?: unknown }).createdAt;
    return typeof createdAt === "string" ? parseInstantMs(createdAt) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Validation of a batch request: each item by the same rules as its single call (so a batch
 * accepts exactly what the single calls accept), with each violation's field named by its path
 * in the request, `items[3].load.amount`, so a caller can find the one bad item among a thousand.
 */
import type { BatchInput } from "./batch.js";
import type { BatchItem } from "./batch-items.js";
import { HOLD_SETTINGS_DEFAULT, parseHoldAction, parseHoldAuthorize, type HoldSettings } from "./hold-input.js";
import { parseTransfer } from "./transfer.js";
import { checkIdempotencyKey, parseMutation, Violations, type Parsed } from "./validate.js";

/** An item as decoded from the wire; `kind` is undefined when the caller set none. */
export type RawBatchItem =
  | {
      readonly kind: "load" | "authorize" | "adjust";
      readonly userId: string;
      readonly amount: bigint;
      readonly currency: string;
      /** Authorize only: place a hold instead of debiting, with this lifetime (0: the default). */
      readonly manualCapture?: boolean;
      readonly ttlSeconds?: bigint;
    }
  | {
      readonly kind: "capture" | "void";
      readonly userId: string;
      readonly holdId: bigint;
      readonly amount: bigint;
      readonly final: boolean;
    }
  | {
      readonly kind: "transfer";
      readonly payerUserId: string;
      readonly payeeUserId: string;
      readonly amount: bigint;
      readonly currency: string;
    }
  | { readonly kind: undefined };

export interface RawBatchInput {
  readonly items: readonly RawBatchItem[];
  readonly idempotencyKey: string;
}

export interface BatchLimits {
  readonly defaultCurrency: string;
  readonly amountMinorMax: bigint;
  /** Most items in one batch (`LEDGER_BATCH_ITEMS_MAX`). */
  readonly itemsMax: number;
  /** The hold settings (default `HOLD_SETTINGS_DEFAULT`), and the ledger's clock for a hold's expiry. */
  readonly holds?: HoldSettings;
  readonly nowMs?: number;
}

/** Validates a batch; every problem is reported at once, except past the item limit. */
export function parseBatch(raw: RawBatchInput, limits: BatchLimits): Parsed<BatchInput> {
  const violations = new Violations();
  const idempotencyKey = checkIdempotencyKey(violations, raw.idempotencyKey);
  if (raw.items.length === 0) {
    violations.add("items", "REQUIRED", "a batch needs at least one item");
  } else if (raw.items.length > limits.itemsMax) {
    // Past the bound nothing else is looked at: validating a huge request is the cost it imposes.
    violations.add("items", "TOO_MANY", `a batch may hold at most ${limits.itemsMax} items (LEDGER_BATCH_ITEMS_MAX)`);
    return violations.result({ items: [], idempotencyKey });
  }
  const items: BatchItem[] = [];
  raw.items.forEach((item, index) => {
    const parsed = parseItem(item, limits);
    const prefix = item.kind === undefined ? `items[${index}]` : `items[${index}].${item.kind}`;
    if (parsed.ok) items.push(parsed.value);
    else
      for (const violation of parsed.violations)
        violations.add(`${prefix}${violation.field}`, violation.reason, violation.description);
  });
  return violations.result({ items, idempotencyKey });
}

/** One item; violation fields come back relative (".amount"), or "" for the item itself. */
function parseItem(item: RawBatchItem, limits: BatchLimits): Parsed<BatchItem> {
  const { defaultCurrency, amountMinorMax } = limits;
  switch (item.kind) {
    case undefined:
      return {
        ok: false,
        violations: [
          {
            field: "",
            reason: "REQUIRED",
            description: "each item sets one of load, authorize, adjust, transfer, capture or void",
          },
        ],
      };
    case "transfer": {
      const parsed = parseTransfer({ ...item, idempotencyKey: "" }, defaultCurrency, amountMinorMax);
      if (!parsed.ok) return relative(parsed.violations);
      const { payerUserId, payeeUserId, currency, amount } = parsed.value;
      return { ok: true, value: { kind: "transfer", payerUserId, payeeUserId, currency, amount } };
    }
    case "capture":
    case "void": {
      // The hold's currency is learned before the batch runs; the tolerance is the service's.
      const parsed = parseHoldAction({ ...item, idempotencyKey: "" }, item.kind === "capture", amountMinorMax);
      if (!parsed.ok) return relative(parsed.violations.filter((violation) => violation.field !== "idempotency_key"));
      const { userId, holdId, amount, final } = parsed.value;
      return { ok: true, value: { kind: item.kind, userId, holdId, currency: "", amount, final, overcaptureBps: 0n } };
    }
    case "authorize":
      if (item.manualCapture === true) {
        const raw = { ...item, idempotencyKey: "", expiresAtMs: undefined, ttlSeconds: item.ttlSeconds ?? 0n };
        const parsed = parseHoldAuthorize(
          raw,
          limits.holds ?? HOLD_SETTINGS_DEFAULT,
          limits.nowMs ?? Date.now(),
          defaultCurrency,
          amountMinorMax,
        );
        if (!parsed.ok) return relative(parsed.violations);
        const { userId, currency, amount, expiry } = parsed.value;
        return { ok: true, value: { kind: "hold", userId, currency, amount, expiry } };
      }
      if ((item.ttlSeconds ?? 0n) !== 0n) {
        return {
          ok: false,
          violations: [
            {
              field: ".ttl_seconds",
              reason: "MANUAL_CAPTURE_ONLY",
              description: "ttl_seconds needs capture_mode CAPTURE_MODE_MANUAL",
            },
          ],
        };
      }
      return accountItem(item, limits);
    default:
      return accountItem(item, limits);
  }
}

function accountItem(
  item: Extract<RawBatchItem, { kind: "load" | "authorize" | "adjust" }>,
  limits: BatchLimits,
): Parsed<BatchItem> {
  const { defaultCurrency, amountMinorMax } = limits;
  {
    {
      const parsed = parseMutation(item.kind, { ...item, idempotencyKey: "" }, defaultCurrency, amountMinorMax);
      if (!parsed.ok) return relative(parsed.violations);
      const { userId, currency, amount } = parsed.value;
      return { ok: true, value: { kind: item.kind, userId, currency, amount } };
    }
  }
}

function relative(violations: readonly { field: string; reason: string; description: string }[]): Parsed<never> {
  return { ok: false, violations: violations.map((violation) => ({ ...violation, field: `.${violation.field}` })) };
}

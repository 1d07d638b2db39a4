/**
 * An atomic batch: up to `LEDGER_BATCH_ITEMS_MAX` mutations (loads, immediate authorizations,
 * adjustments, transfers) applied in order, all or nothing, as one group mutation of the store.
 * Each item is decided by its own kind's rule (see `./batch-items.ts`) against the accounts as
 * the earlier items left them, so a load and a debit of the same account in one batch work. The
 * first refusal fails the whole batch and records nothing, not even an authorization's decline.
 *
 * The idempotency key is scoped to the first item's user (a transfer's payer), whose leg comes
 * first and carries it. The store keeps a digest of the items' canonical form with the batch's
 * group: a replay must send the same items in the same order, and a key that the user gave
 * another method (a Transfer, a Load) is told apart even when its entries look alike.
 */
import { createHash } from "node:crypto";
import { assert } from "../assert.js";
import { DEFAULT_POLICY } from "../store/store.js";
import type { AccountKey, AccountPolicy, AccountState, Entry, GroupLeg, GroupResult, Hold } from "../store/store.js";
import { itemRow, type BatchItem, type LegShape } from "./batch-items.js";
import type { HoldRejectReason } from "./hold.js";
import { failure, success, type LedgerFailure, type Outcome } from "./outcome.js";

export type { BatchItem } from "./batch-items.js";

/** Most items in one batch unless configured (`LEDGER_BATCH_ITEMS_MAX`). */
export const BATCH_ITEMS_MAX_DEFAULT = 1000;

export interface BatchInput {
  readonly items: readonly BatchItem[];
  readonly idempotencyKey: string | null;
}

/** A batch's result: every entry it recorded (or recorded first, when replayed), in item order. */
export interface BatchReceipt {
  /** The id of the batch's first entry, stored as the group id on every entry. */
  readonly batchId: bigint;
  readonly entries: readonly { readonly itemIndex: number; readonly entry: Entry }[];
  readonly replayed: boolean;
}

const keyOf = (key: AccountKey): string => `${key.userId}\u0000${key.currency}`;

/** Every account the batch names, once each, in order of first mention: the first is the key's owner's. */
export function batchAccounts(items: readonly BatchItem[]): AccountKey[] {
  const accounts = new Map<string, AccountKey>();
  for (const item of items) {
    for (const account of itemRow(item).accounts(item)) accounts.set(keyOf(account), account);
  }
  return [...accounts.values()];
}

/** The user whose idempotency keys the batch's key shares: the first item's (a transfer's payer). */
export function batchOwner(items: readonly BatchItem[]): string {
  const first = items[0];
  assert(first !== undefined, "a batch has at least one item");
  const account = itemRow(first).accounts(first)[0];
  assert(account !== undefined, "every item touches an account");
  return account.userId;
}

export type BatchPlan =
  | { readonly type: "post"; readonly legs: readonly GroupLeg[] }
  | {
      readonly type: "reject";
      readonly itemIndex: number;
      readonly reason: HoldRejectReason;
      readonly failure: LedgerFailure;
    };

/** Every stored hold the batch's captures and voids name, once each, in order of first mention. */
export function batchHoldIds(items: readonly BatchItem[]): bigint[] {
  const holdIds = new Set<bigint>();
  for (const item of items) {
    const holdId = itemRow(item).holdId(item);
    if (holdId !== undefined) holdIds.add(holdId);
  }
  return [...holdIds];
}

/**
 * Decides the items in order against running states: `current` and `policies` are those of
 * `batchAccounts(items)`, in that order, and `holds` those of `batchHoldIds(items)`. A capture
 * or void sees its hold as the batch's earlier items left it. Pure, so the store can run it
 * inside its transaction and the outcome can run it again to explain a refusal.
 */
export function planBatch(
  items: readonly BatchItem[],
  current: readonly (AccountState | undefined)[],
  nowMs: number,
  policies: readonly AccountPolicy[],
  holds: readonly (Hold | undefined)[] = [],
): BatchPlan {
  const accounts = batchAccounts(items);
  const holdOf = new Map(batchHoldIds(items).map((holdId, index) => [holdId, holds[index]]));
  const states = new Map(accounts.map((account, index) => [keyOf(account), current[index]]));
  const policyOf = new Map(accounts.map((account, index) => [keyOf(account), policies[index] ?? DEFAULT_POLICY]));
  const legs: GroupLeg[] = [];
  for (const [itemIndex, item] of items.entries()) {
    const row = itemRow(item);
    const keys = row.accounts(item).map(keyOf);
    const itemStates = keys.map((key) => states.get(key));
    const itemPolicies = keys.map((key) => policyOf.get(key) ?? DEFAULT_POLICY);
    const holdId = row.holdId(item);
    const hold = holdId === undefined ? undefined : holdOf.get(holdId);
    const verdict = row.decide(item)(itemStates, nowMs, itemPolicies, hold);
    if (verdict.type === "reject") {
      const reason = verdict.reason;
      return { type: "reject", itemIndex, reason, failure: row.failure(item, reason, itemStates, itemPolicies, hold) };
    }
    for (const leg of verdict.legs) {
      states.set(keyOf(leg.account), leg.next);
      if (hold !== undefined && leg.hold?.holdId === hold.holdId)
        holdOf.set(hold.holdId, { ...hold, ...leg.hold.state });
      legs.push(leg);
    }
  }
  return { type: "post", legs };
}

/** The store's decision function for a batch. */
export function decideBatch(items: readonly BatchItem[]) {
  return (
    current: readonly (AccountState | undefined)[],
    nowMs: number,
    policies: readonly AccountPolicy[],
    holds: readonly (Hold | undefined)[],
  ) => {
    const plan = planBatch(items, current, nowMs, policies, holds);
    return plan.type === "post"
      ? ({ type: "post", legs: plan.legs } as const)
      : ({ type: "reject", reason: plan.reason } as const);
  };
}

/**
 * The SHA-256 of the items' canonical form: each item's kind and fields in a fixed order, with
 * the currency resolved and amounts as decimal strings, so equal requests have equal digests
 * whatever their JSON spelling.
 */
export function batchDigest(items: readonly BatchItem[]): string {
  const canonical = items.map((item) => {
    switch (item.kind) {
      case "transfer":
        return [item.kind, item.payerUserId, item.payeeUserId, item.currency, String(item.amount)];
      case "hold": {
        const expiry = "atMs" in item.expiry ? `at:${item.expiry.atMs}` : `ttl:${item.expiry.ttlMs}`;
        return [item.kind, item.userId, item.currency, String(item.amount), expiry];
      }
      case "capture":
      case "void":
        return [item.kind, item.userId, String(item.holdId), String(item.amount), String(item.final)];
      default:
        return [item.kind, item.userId, item.currency, String(item.amount)];
    }
  });
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** For each leg the batch records, the index of the item it belongs to. */
function legItems(items: readonly BatchItem[]): { readonly itemIndex: number; readonly shape: LegShape }[] {
  return items.flatMap((item, itemIndex) =>
    itemRow(item)
      .legs(item)
      .map((shape) => ({ itemIndex, shape })),
  );
}

/**
 * Maps the store's result to the caller's outcome: a replay must carry the stored digest of the
 * same items. A refusal is explained by deciding the batch again on the states and policies the
 * store read, the holds it read and the commit time it decided at (a hold's expiry depends on it).
 */
export function batchOutcome(input: BatchInput, result: GroupResult<HoldRejectReason>): Outcome<BatchReceipt> {
  switch (result.type) {
    case "applied":
    case "existing": {
      const replayed = result.type === "existing";
      if (replayed && (result.batchDigest === undefined || result.groupId === null)) {
        return failure({ kind: "idempotency_key_reused", idempotencyKey: input.idempotencyKey ?? "", field: "method" });
      }
      if (replayed && result.batchDigest !== batchDigest(input.items)) {
        return failure({ kind: "idempotency_key_reused", idempotencyKey: input.idempotencyKey ?? "", field: "items" });
      }
      const expected = legItems(input.items);
      assert(
        result.groupId !== null &&
          result.entries.length === expected.length &&
          expected.every(({ shape }, index) => sameLeg(shape, result.entries[index])),
        "a batch's entries are the legs its items record",
      );
      const entries = result.entries.map((entry, index) => ({ itemIndex: expected[index]?.itemIndex ?? 0, entry }));
      return success({ batchId: result.groupId, entries, replayed });
    }
    case "rejected": {
      const plan = planBatch(input.items, result.current, result.nowMs ?? 0, result.policies, result.holds ?? []);
      assert(plan.type === "reject", "a batch the store refused is refused again on the same states");
      return failure({ kind: "batch_item_failed", itemIndex: plan.itemIndex, failure: plan.failure });
    }
  }
}

function sameLeg(shape: LegShape, entry: Entry | undefined): boolean {
  return (
    entry !== undefined &&
    entry.status === "applied" &&
    entry.userId === shape.userId &&
    entry.currency === shape.currency &&
    entry.kind === shape.kind &&
    (shape.amount === undefined || entry.amount === shape.amount) &&
    (shape.holdId === undefined || entry.holdId === shape.holdId)
  );
}

/**
 * How an entry changes an account: the single fold that both the write path and `verify` use,
 * so the cached balances and their recomputation from entries cannot drift apart by code.
 */
import type { AccountState, EntryDraft, EntryKind } from "../store/store.js";
import { addInt64 } from "./money.js";

/** The account before its first entry. */
export function emptyAccount(atMs: number): AccountState {
  return {
    balance: 0n,
    earned: 0n,
    spent: 0n,
    payoutRequested: 0n,
    paidOut: 0n,
    loaded: 0n,
    authorized: 0n,
    declinedCount: 0n,
    entryCount: 0n,
    createdAtMs: atMs,
    updatedAtMs: atMs,
  };
}

/** The change to the balance that an entry of this kind and amount makes when applied. */
export function balanceDelta(kind: EntryKind, amount: bigint): bigint {
  switch (kind) {
    case "load":
    case "adjust":
    case "vendor_earned":
      return amount;
    case "authorize":
    case "vendor_spent":
    case "vendor_paid_out":
      return -amount;
    case "vendor_payout":
      return 0n;
  }
}

type Counters = Omit<AccountState, "createdAtMs" | "updatedAtMs">;
type Increments = Partial<Record<keyof Counters, bigint>>;

function increments(entry: EntryDraft): Increments {
  if (entry.status === "declined") return { declinedCount: 1n };
  const { amount, delta } = entry;
  switch (entry.kind) {
    case "load":
      return { balance: delta, earned: amount, loaded: amount };
    case "authorize":
      return { balance: delta, spent: amount, authorized: amount };
    case "adjust":
      return amount > 0n ? { balance: delta, earned: amount } : { balance: delta, spent: -amount };
    case "vendor_earned":
      return { balance: delta, earned: amount };
    case "vendor_spent":
      return { balance: delta, spent: amount };
    case "vendor_payout":
      return { payoutRequested: amount };
    case "vendor_paid_out":
      return { balance: delta, paidOut: amount };
  }
}

/**
 * The account after `entry`, or `undefined` when any total would leave int64: such an entry is
 * refused rather than stored with a balance that no client could read back.
 */
export function applyEntry(
  state: AccountState | undefined,
  entry: EntryDraft,
  atMs: number,
): AccountState | undefined {
  const base = state ?? emptyAccount(atMs);
  const next: Record<string, bigint | number> = { ...base, updatedAtMs: atMs };
  const changes: Increments = { ...increments(entry), entryCount: 1n };
  for (const [field, increment] of Object.entries(changes) as [keyof Counters, bigint][]) {
    const sum = addInt64(base[field], increment);
    if (sum === undefined) return undefined;
    next[field] = sum;
  }
  return next as unknown as AccountState;
}

/** Field-by-field equality, for `verify`. Returns the names of the fields that differ. */
export function diffAccounts(expected: AccountState, actual: AccountState): (keyof AccountState)[] {
  const fields: (keyof Counters)[] = [
    "balance",
    "earned",
    "spent",
    "payoutRequested",
    "paidOut",
    "loaded",
    "authorized",
    "declinedCount",
    "entryCount",
  ];
  return fields.filter((field) => expected[field] !== actual[field]);
}

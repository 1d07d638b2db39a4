/**
 * How an entry changes an account: the single fold that both the write path and `verify` use,
 * so the cached balances and their recomputation from entries cannot drift apart by code.
 */
import { isHoldKind, type AccountState, type EntryDraft, type EntryKind, type EntryTotal } from "../store/store.js";
import { assert } from "../assert.js";
import { addInt64, INT64_MAX, saturatingAddInt64 } from "./money.js";

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
    held: 0n,
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
    case "hold_capture":
      return -amount;
    case "vendor_payout":
    case "hold":
    case "hold_void":
    case "hold_expire":
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
    // A hold moves no money until captured; a capture is a spend, like an approved authorization.
    case "hold":
    case "hold_void":
    case "hold_expire":
      return { held: entry.heldDelta ?? 0n };
    case "hold_capture":
      return { balance: delta, spent: amount, authorized: amount, held: entry.heldDelta ?? 0n };
  }
}

/** The fields that are exact sums (never saturating): a wrong one is a wrong answer. */
const EXACT_FIELDS: ReadonlySet<string> = new Set(["balance", "held"]);

/**
 * The account after `entry`, or `undefined` when the balance would leave int64: such an entry is
 * refused rather than stored with a balance that no client could read back. The lifetime totals
 * (earned, spent, loaded, ...) only grow, and saturate at 2^63 - 1 instead: one caller loading and
 * adjusting away 2^63 - 1 must not leave an account that refuses every later credit. A saturated
 * total reads as "at least this much"; the balance stays exact.
 */
export function applyEntry(state: AccountState | undefined, entry: EntryDraft, atMs: number): AccountState | undefined {
  const base = state ?? emptyAccount(atMs);
  const next: Record<string, bigint | number> = { ...base, updatedAtMs: atMs };
  const changes: Increments = { ...increments(entry), entryCount: 1n };
  for (const [field, increment] of Object.entries(changes) as [keyof Counters, bigint][]) {
    if (EXACT_FIELDS.has(field)) {
      const sum = addInt64(base[field], increment);
      if (sum === undefined) return undefined;
      next[field] = sum;
    } else {
      next[field] = saturatingAddInt64(base[field], increment);
    }
  }
  return next as unknown as AccountState;
}

/**
 * `applyEntry` for the write path, which asserts what every entry it is given must satisfy: the
 * delta is the one its kind and status imply, and the amount has the sign its kind allows.
 * (`verify` folds stored entries with `applyEntry` itself, so that a damaged row is reported,
 * not fatal.)
 */
export function applyNewEntry(
  state: AccountState | undefined,
  entry: EntryDraft,
  atMs: number,
): AccountState | undefined {
  const expectedDelta = entry.status === "declined" ? 0n : balanceDelta(entry.kind, entry.amount);
  assert(
    entry.delta === expectedDelta,
    `a ${entry.kind} entry of ${entry.amount} has delta ${entry.delta}, not ${expectedDelta}`,
  );
  assert(
    entry.kind === "adjust" ? entry.amount !== 0n : entry.amount > 0n,
    `a ${entry.kind} entry has amount ${entry.amount}`,
  );
  assert(
    entry.status === "applied" || entry.kind === "authorize" || entry.kind === "hold",
    `only an authorization or a hold can be declined, not a ${entry.kind}`,
  );
  assertHeldDelta(entry);
  const next = applyEntry(state, entry, atMs);
  if (next !== undefined) assert(next.held >= 0n, "the held amount went below zero");
  if (next !== undefined) {
    assert(next.balance === (state?.balance ?? 0n) + entry.delta, "the balance moved by other than the entry's delta");
    assert(
      next.entryCount > (state?.entryCount ?? 0n) || next.entryCount === INT64_MAX,
      "the entry count did not grow",
    );
  }
  return next;
}

/** What each kind may do to the held amount: a hold adds its amount, releases take some away. */
function assertHeldDelta(entry: EntryDraft): void {
  const heldDelta = entry.heldDelta ?? 0n;
  if (entry.status === "declined" || !isHoldKind(entry.kind)) {
    assert(heldDelta === 0n, `a ${entry.status} ${entry.kind} entry changes held by ${heldDelta}`);
  } else if (entry.kind === "hold") {
    assert(heldDelta === entry.amount, "a hold holds its amount");
  } else if (entry.kind === "hold_capture") {
    assert(heldDelta <= 0n, "a capture only releases");
  } else {
    assert(heldDelta === -entry.amount, `a ${entry.kind} releases its amount`);
  }
}

/**
 * The account folded from grouped sums of its entries (`EntryTotal`) rather than one entry at a
 * time: every increment is linear in an entry's amount and delta, so a group of entries of one
 * kind, status and amount sign adds what its members would add one by one (the lifetime totals
 * saturate as in `applyEntry`). The balance is left for the caller, which knows it exactly.
 */
export function foldTotals(totals: readonly EntryTotal[], createdAtMs: number, updatedAtMs: number): AccountState {
  const next: Record<string, bigint | number> = { ...emptyAccount(createdAtMs), updatedAtMs };
  for (const total of totals) {
    const changes: Increments =
      total.status === "declined"
        ? { declinedCount: total.count }
        : increments({ kind: total.kind, status: total.status, amount: total.amount, delta: total.delta });
    for (const [field, increment] of Object.entries({ ...changes, entryCount: total.count }) as [
      keyof Counters,
      bigint,
    ][]) {
      next[field] =
        field === "balance"
          ? (next.balance as bigint) + increment
          : saturatingAddInt64(next[field] as bigint, increment);
    }
  }
  return next as unknown as AccountState;
}

const TOTAL_FIELDS = [
  "earned",
  "spent",
  "payoutRequested",
  "paidOut",
  "loaded",
  "authorized",
  "declinedCount",
  "entryCount",
] as const;

/** Whether `asOfMs` lies in the later half of the account's life, by recording time. */
export function nearerThePresent(account: AccountState, asOfMs: number): boolean {
  return asOfMs - account.createdAtMs > account.updatedAtMs - asOfMs;
}

/**
 * The account before the entries summed in `after`, from its current state: the inverse of
 * `foldTotals`. `undefined` when a current total has saturated at 2^63 - 1, which cannot be
 * undone exactly: the caller folds forward instead.
 */
export function unfoldTotals(
  current: AccountState,
  after: readonly EntryTotal[],
  updatedAtMs: number,
): AccountState | undefined {
  if (TOTAL_FIELDS.some((field) => current[field] === INT64_MAX)) return undefined;
  const removed = foldTotals(after, current.createdAtMs, updatedAtMs);
  const state: Record<string, bigint | number> = {
    ...current,
    updatedAtMs,
    balance: current.balance - removed.balance,
  };
  for (const field of TOTAL_FIELDS) state[field] = current[field] - removed[field];
  return state as unknown as AccountState;
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
    "held",
  ];
  return fields.filter((field) => expected[field] !== actual[field]);
}

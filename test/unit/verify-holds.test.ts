/**
 * `verify` recomputes held (and so available) from the entries: the account's held must be the
 * fold of the entries' held deltas, each entry's held_after must match the fold so far, and each
 * hold's entries must name a hold of that account and never release more than it reserved.
 */
import { expect } from "chai";
import { applyEntry } from "../../src/domain/account.js";
import { verifyLedger } from "../../src/domain/verify.js";
import type { Account, AccountState, Entry, EntryDraft } from "../../src/store/store.js";

const NOW = 1_700_000_000_000;

function entry(id: bigint, draft: EntryDraft, balanceAfter: bigint, heldAfter: bigint, holdId?: bigint): Entry {
  return {
    id,
    userId: "u",
    currency: "USD",
    ...draft,
    balanceAfter,
    idempotencyKey: null,
    externalId: null,
    occurredAtMs: NOW,
    createdAtMs: NOW,
    heldAfter,
    ...(holdId === undefined ? {} : { holdId }),
  };
}

const LOAD = entry(1n, { kind: "load", status: "applied", amount: 100n, delta: 100n }, 100n, 0n);
const HOLD = entry(2n, { kind: "hold", status: "applied", amount: 60n, delta: 0n, heldDelta: 60n }, 100n, 60n, 2n);
const CAPTURE = entry(
  3n,
  { kind: "hold_capture", status: "applied", amount: 20n, delta: -20n, heldDelta: -20n },
  80n,
  40n,
  2n,
);
const VOID = entry(4n, { kind: "hold_void", status: "applied", amount: 40n, delta: 0n, heldDelta: -40n }, 80n, 0n, 2n);

function fold(entries: readonly Entry[]): Account {
  let state: AccountState | undefined;
  for (const item of entries) state = applyEntry(state, item, NOW);
  if (state === undefined) throw new Error("no entries");
  return { userId: "u", currency: "USD", ...state };
}

describe("verifyLedger with holds (unit)", () => {
  it("passes when held is the fold of the entries", () => {
    const entries = [LOAD, HOLD, CAPTURE, VOID];
    const account = fold(entries);
    expect([account.balance, account.held, account.spent]).to.deep.equal([80n, 0n, 20n]);
    expect(verifyLedger(entries, [account]).mismatches).to.deep.equal([]);
    expect(verifyLedger([LOAD, HOLD], [fold([LOAD, HOLD])]).mismatches).to.deep.equal([]);
  });

  it("reports an account whose held differs from its entries", () => {
    const account = { ...fold([LOAD, HOLD]), held: 0n };
    const problems = verifyLedger([LOAD, HOLD], [account]).mismatches.map((mismatch) => mismatch.problem);
    expect(problems).to.deep.equal(["held is 0, entries sum to 60"]);
  });

  it("reports a wrong held_after, a release past the hold, an unknown hold and an entry after a void", () => {
    const wrongAfter = { ...CAPTURE, heldAfter: 41n };
    expect(verifyLedger([LOAD, HOLD, wrongAfter], []).mismatches.map((m) => m.problem)).to.include(
      "entry 3: held_after 41, expected 40",
    );
    const overRelease = { ...VOID, amount: 50n, heldDelta: -50n, heldAfter: -10n };
    expect(verifyLedger([LOAD, HOLD, CAPTURE, overRelease], []).mismatches.map((m) => m.problem)).to.include(
      "entry 4: hold 2 released more than it reserved",
    );
    const stray = { ...CAPTURE, holdId: 9n };
    expect(verifyLedger([LOAD, HOLD, stray], []).mismatches.map((m) => m.problem)).to.include(
      "entry 3: its hold 9 is not this account's hold",
    );
    const late = { ...CAPTURE, id: 5n, balanceAfter: 60n, heldAfter: -20n };
    expect(verifyLedger([LOAD, HOLD, CAPTURE, VOID, late], []).mismatches.map((m) => m.problem)).to.include(
      "entry 5: hold 2 was already released",
    );
  });
});

/**
 * The ledger's rules as pure functions: no I/O, no server.
 */
import { expect } from "chai";
import { applyEntry, emptyAccount } from "../../src/domain/account.js";
import { INT64_MAX, INT64_MIN, addInt64 } from "../../src/domain/money.js";
import { decideAdjust, decideAuthorize, decideLoad } from "../../src/domain/rules.js";
import { verifyLedger } from "../../src/domain/verify.js";
import type { Account, AccountState, Entry } from "../../src/store/store.js";

const NOW = 1_700_000_000_000;

function withBalance(balance: bigint): AccountState {
  return { ...emptyAccount(NOW), balance, earned: balance > 0n ? balance : 0n, spent: balance < 0n ? -balance : 0n };
}

describe("money", () => {
  it("adds within int64 and refuses to leave it", () => {
    expect(addInt64(INT64_MAX - 1n, 1n)).to.equal(INT64_MAX);
    expect(addInt64(INT64_MAX, 1n)).to.equal(undefined);
    expect(addInt64(INT64_MIN, -1n)).to.equal(undefined);
  });
});

describe("rules", () => {
  it("Load credits and counts the load as earned", () => {
    const verdict = decideLoad(250n)(undefined, NOW);
    expect(verdict.type).to.equal("post");
    if (verdict.type !== "post") return;
    expect(verdict.entry).to.deep.equal({ kind: "load", status: "applied", amount: 250n, delta: 250n });
    expect(verdict.next).to.include({ balance: 250n, earned: 250n, loaded: 250n, entryCount: 1n });
  });

  it("Load refuses a balance past int64", () => {
    expect(decideLoad(1n)(withBalance(INT64_MAX), NOW)).to.deep.equal({ type: "reject", reason: "balance_overflow" });
  });

  it("Authorize approves exactly at the balance and declines one above it", () => {
    const approved = decideAuthorize(100n)(withBalance(100n), NOW);
    expect(approved.type === "post" && approved.entry.status).to.equal("applied");
    expect(approved.type === "post" && approved.next.balance).to.equal(0n);
    const declined = decideAuthorize(101n)(withBalance(100n), NOW);
    expect(declined.type === "post" && declined.entry).to.deep.equal({
      kind: "authorize",
      status: "declined",
      amount: 101n,
      delta: 0n,
    });
    expect(declined.type === "post" && declined.next).to.include({ balance: 100n, declinedCount: 1n, entryCount: 1n });
  });

  it("Authorize declines on an overdrawn account", () => {
    const verdict = decideAuthorize(1n)(withBalance(-5n), NOW);
    expect(verdict.type === "post" && verdict.entry.status).to.equal("declined");
  });

  it("AdjustBalance subtracts down to zero and no further", () => {
    const toZero = decideAdjust(-10n)(withBalance(10n), NOW);
    expect(toZero.type === "post" && toZero.next.balance).to.equal(0n);
    expect(toZero.type === "post" && toZero.next.spent).to.equal(10n);
    expect(decideAdjust(-11n)(withBalance(10n), NOW)).to.deep.equal({ type: "reject", reason: "insufficient_funds" });
    expect(decideAdjust(-1n)(undefined, NOW)).to.deep.equal({ type: "reject", reason: "insufficient_funds" });
  });

  it("AdjustBalance may add to an overdrawn account but not subtract from it", () => {
    expect(decideAdjust(3n)(withBalance(-5n), NOW).type).to.equal("post");
    expect(decideAdjust(-1n)(withBalance(-5n), NOW).type).to.equal("reject");
  });
});

describe("applyEntry", () => {
  it("applies vendor facts: payout raises requested, paid_out debits, both keep the invariant", () => {
    let state: AccountState | undefined;
    state = applyEntry(state, { kind: "vendor_earned", status: "applied", amount: 100n, delta: 100n }, NOW);
    state = applyEntry(state, { kind: "vendor_payout", status: "applied", amount: 30n, delta: 0n }, NOW);
    state = applyEntry(state, { kind: "vendor_paid_out", status: "applied", amount: 20n, delta: -20n }, NOW);
    state = applyEntry(state, { kind: "vendor_spent", status: "applied", amount: 90n, delta: -90n }, NOW);
    expect(state).to.include({ balance: -10n, earned: 100n, spent: 90n, payoutRequested: 30n, paidOut: 20n });
    expect(state?.balance).to.equal((state?.earned ?? 0n) - (state?.spent ?? 0n) - (state?.paidOut ?? 0n));
  });

  it("saturates lifetime totals at 2^63-1 instead of refusing, and refuses only a balance past int64", () => {
    const earnedFull = { ...emptyAccount(NOW), earned: INT64_MAX, spent: INT64_MAX, loaded: INT64_MAX - 1n };
    expect(applyEntry(earnedFull, { kind: "load", status: "applied", amount: 5n, delta: 5n }, NOW)).to.include({
      balance: 5n,
      earned: INT64_MAX,
      spent: INT64_MAX,
      loaded: INT64_MAX,
      entryCount: 1n,
    });
    const balanceFull = { ...emptyAccount(NOW), balance: INT64_MAX };
    expect(applyEntry(balanceFull, { kind: "load", status: "applied", amount: 1n, delta: 1n }, NOW)).to.equal(
      undefined,
    );
  });
});

describe("verifyLedger", () => {
  const leg = (id: bigint, groupId: bigint, amount: bigint, userId: string, createdAtMs = NOW): Entry => ({
    ...entry(id, amount, 0n),
    userId,
    kind: "adjust",
    groupId,
    createdAtMs,
  });

  function entry(id: bigint, amount: bigint, balanceAfter: bigint): Entry {
    return {
      id,
      userId: "u",
      currency: "USD",
      kind: "load",
      status: "applied",
      amount,
      delta: amount,
      balanceAfter,
      idempotencyKey: null,
      externalId: null,
      occurredAtMs: NOW,
      createdAtMs: NOW,
    };
  }
  function account(state: AccountState): Account {
    return { userId: "u", currency: "USD", ...state };
  }

  it("passes when the accounts equal the fold of their entries", () => {
    const entries = [entry(1n, 5n, 5n), entry(2n, 7n, 12n)];
    const folded = applyEntry(applyEntry(undefined, entries[0]!, NOW), entries[1]!, NOW)!;
    expect(verifyLedger(entries, [account(folded)]).mismatches).to.deep.equal([]);
  });

  it("reports a cached balance that differs from its entries", () => {
    const entries = [entry(1n, 5n, 5n)];
    const folded = applyEntry(undefined, entries[0]!, NOW)!;
    const report = verifyLedger(entries, [account({ ...folded, balance: 6n })]);
    expect(report.mismatches.map((mismatch) => mismatch.problem).join()).to.match(/balance is 6, entries sum to 5/);
  });

  it("reports a wrong balance_after, an orphan account and entries without an account", () => {
    expect(verifyLedger([entry(1n, 5n, 4n)], []).mismatches.map((m) => m.problem)).to.deep.equal([
      "entry 1: balance_after 4, expected 5",
      "entries exist but the account does not",
    ]);
    expect(verifyLedger([], [account(withBalance(1n))]).mismatches.map((m) => m.problem)).to.deep.equal([
      "account has no entries",
    ]);
  });

  it("reports a transfer group whose legs do not sum to zero, lost its first leg, or was recorded apart", () => {
    const problems = (entries: Entry[], batches?: Map<bigint, bigint>) =>
      verifyLedger(entries, [], batches)
        .mismatches.map((mismatch) => mismatch.problem)
        .filter((problem) => /group|batch/.test(problem));
    expect(problems([leg(1n, 1n, -5n, "a"), leg(2n, 1n, 5n, "b")])).to.deep.equal([]);
    expect(problems([leg(1n, 1n, -5n, "a"), leg(2n, 1n, 4n, "b")])).to.deep.equal(["group 1: its legs sum to -1"]);
    // PostgreSQL gives concurrent transactions interleaved ids: another entry between two legs is fine.
    expect(problems([leg(1n, 1n, -5n, "a"), entry(2n, 1n, 1n), leg(3n, 1n, 5n, "b")])).to.deep.equal([]);
    expect(
      problems([leg(1n, 1n, -5n, "a"), leg(2n, 2n, -3n, "c"), leg(3n, 1n, 5n, "b"), leg(4n, 2n, 3n, "d")]),
    ).to.deep.equal([]);
    expect(problems([leg(1n, 1n, -5n, "a"), leg(2n, 2n, -3n, "c"), leg(4n, 2n, 3n, "d")])).to.deep.equal([
      "group 1: its legs sum to -5",
    ]);
    expect(problems([leg(2n, 1n, 5n, "b")])).to.deep.equal([
      "entry 2: its group 1 has no leg 1",
      "group 1: its legs sum to 5",
    ]);
    expect(
      problems([
        { ...leg(2n, 2n, -5n, "a"), currency: "USD" },
        { ...leg(3n, 2n, 5n, "b"), currency: "EUR" },
      ]),
    ).to.deep.equal(["entry 3: its group 2 mixes currencies"]);
    expect(problems([leg(1n, 1n, -5n, "a"), leg(2n, 1n, 5n, "b", NOW + 1)])).to.deep.equal([
      `entry 2: recorded at ${NOW + 1}, apart from its group 1 (${NOW})`,
    ]);
  });

  it("holds a batch's group to its stored leg count, not to a zero sum", () => {
    const problems = (entries: Entry[], batches: Map<bigint, bigint>) =>
      verifyLedger(entries, [], batches)
        .mismatches.map((mismatch) => mismatch.problem)
        .filter((problem) => /group|batch/.test(problem));
    // A batch may credit, debit and mix currencies.
    const batch = [leg(1n, 1n, 5n, "a"), leg(2n, 1n, -3n, "a"), { ...leg(4n, 1n, 7n, "b"), currency: "EUR" }];
    expect(problems(batch, new Map([[1n, 3n]]))).to.deep.equal([]);
    expect(problems(batch.slice(0, 2), new Map([[1n, 3n]]))).to.deep.equal(["batch 1: 2 legs found, 3 recorded"]);
    expect(problems([], new Map([[1n, 1n]]))).to.deep.equal(["batch 1: 0 legs found, 1 recorded"]);
    // Without its batch row the same group is a transfer's, and its sum is a finding.
    expect(problems(batch, new Map())).to.deep.equal([
      "entry 4: its group 1 mixes currencies",
      "group 1: its legs sum to 9",
    ]);
  });
});

import { expect } from "chai";
import { toAccountBalance } from "../../src/rpc/convert.js";
import type { AccountView } from "../../src/domain/ledger.js";
import { DEFAULT_POLICY } from "../../src/store/store.js";

const account = (payoutRequested: bigint, paidOut: bigint): AccountView => ({
  userId: "u1",
  currency: "EUR",
  balance: 1000n - paidOut,
  earned: 1000n,
  spent: 0n,
  payoutRequested,
  held: 0n,
  paidOut,
  loaded: 0n,
  authorized: 0n,
  declinedCount: 0n,
  entryCount: 3n,
  createdAtMs: 0,
  updatedAtMs: 0,
  policy: DEFAULT_POLICY,
});

describe("AccountBalance payout fields (unit)", () => {
  it("reports payout as the sum of requested payouts and the outstanding amount on its own", () => {
    const balance = toAccountBalance(account(700n, 200n));
    expect(balance).to.include({ payout: 700n, payoutRequested: 700n, paidOut: 200n, payoutOutstanding: 500n });
  });

  it("shows a negative outstanding amount, exactly, when more was paid out than requested", () => {
    const balance = toAccountBalance(account(100n, 48_877n));
    expect(balance).to.include({ payout: 100n, paidOut: 48_877n, payoutOutstanding: -48_777n });
  });

  it("keeps 2^53 + 1 exact in both fields", () => {
    const big = 2n ** 53n + 1n;
    expect(toAccountBalance(account(big, 0n))).to.include({ payout: big, payoutOutstanding: big });
  });
});

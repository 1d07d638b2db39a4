/**
 * Account policies as pure rules: what each state and overdraft limit allows, how the write
 * rules use them, and how a policy request is validated.
 */
import { expect } from "chai";
import { applyEntry, emptyAccount } from "../../src/domain/account.js";
import { creditRefusal, debitRefusal, parsePolicy, refusalFailure } from "../../src/domain/policy.js";
import { decideAdjust, decideAuthorize, decideLoad } from "../../src/domain/rules.js";
import { decideTransfer } from "../../src/domain/transfer.js";
import { DEFAULT_POLICY, type AccountPolicy, type AccountState } from "../../src/store/store.js";

const active = (overdraftLimit: bigint): AccountPolicy => ({ overdraftLimit, state: "active" });
const FROZEN: AccountPolicy = { overdraftLimit: 100n, state: "frozen" };
const CLOSED: AccountPolicy = { overdraftLimit: 100n, state: "closed" };

function withBalance(balance: bigint): AccountState {
  const state = applyEntry(emptyAccount(0), { kind: "adjust", status: "applied", amount: balance, delta: balance }, 0);
  if (state === undefined) throw new Error("unreachable");
  return state;
}

describe("account policies (unit)", () => {
  it("allows a debit down to exactly -overdraft_limit and not one unit further", () => {
    expect(debitRefusal(withBalance(10n), 60n, active(50n))).to.equal(undefined);
    expect(debitRefusal(withBalance(10n), 61n, active(50n))).to.equal("overdraft_limit_exceeded");
    expect(debitRefusal(withBalance(10n), 10n, DEFAULT_POLICY)).to.equal(undefined);
    expect(debitRefusal(withBalance(10n), 11n, DEFAULT_POLICY)).to.equal("insufficient_funds");
  });

  it("refuses every debit of a frozen or closed account, credits only of a closed one", () => {
    expect(debitRefusal(withBalance(1000n), 1n, FROZEN)).to.equal("account_frozen");
    expect(debitRefusal(withBalance(1000n), 1n, CLOSED)).to.equal("account_closed");
    expect(creditRefusal(FROZEN)).to.equal(undefined);
    expect(creditRefusal(CLOSED)).to.equal("account_closed");
    expect(creditRefusal(DEFAULT_POLICY)).to.equal(undefined);
  });

  it("applies the policy in every write rule", () => {
    expect(decideLoad(5n)(undefined, 0, CLOSED)).to.deep.equal({ type: "reject", reason: "account_closed" });
    expect(decideLoad(5n)(undefined, 0, FROZEN).type).to.equal("post");
    expect(decideAdjust(-5n)(withBalance(100n), 0, FROZEN)).to.deep.equal({ type: "reject", reason: "account_frozen" });
    expect(decideAdjust(5n)(withBalance(100n), 0, FROZEN).type).to.equal("post");
    const overdraft = decideAdjust(-30n)(withBalance(10n), 0, active(20n));
    expect(overdraft.type === "post" && overdraft.next.balance).to.equal(-20n);
    expect(decideAuthorize(1n)(withBalance(100n), 0, FROZEN)).to.deep.equal({
      type: "reject",
      reason: "account_frozen",
    });
    const approved = decideAuthorize(30n)(withBalance(10n), 0, active(20n));
    expect(approved.type === "post" && approved.entry.status).to.equal("applied");
    const declined = decideAuthorize(31n)(withBalance(10n), 0, active(20n));
    expect(declined.type === "post" && declined.entry.status).to.equal("declined");
  });

  it("checks the payer's debit and the payee's credit of a transfer", () => {
    const input = { payerUserId: "a", payeeUserId: "b", currency: "USD", amount: 30n, idempotencyKey: null };
    expect(decideTransfer(input)([withBalance(10n), undefined], 0, [active(20n), DEFAULT_POLICY]).type).to.equal(
      "post",
    );
    expect(decideTransfer(input)([withBalance(10n), undefined], 0, [active(19n), DEFAULT_POLICY])).to.deep.equal({
      type: "reject",
      reason: "overdraft_limit_exceeded",
    });
    expect(decideTransfer(input)([withBalance(100n), undefined], 0, [DEFAULT_POLICY, CLOSED])).to.deep.equal({
      type: "reject",
      reason: "account_closed",
    });
    expect(decideTransfer(input)([withBalance(100n), undefined], 0, [DEFAULT_POLICY, FROZEN]).type).to.equal("post");
  });

  it("explains a refusal with the available balance, the limit and the amount", () => {
    expect(refusalFailure("overdraft_limit_exceeded", withBalance(-5n), active(10n), -6n)).to.deep.equal({
      kind: "account_policy",
      reason: "overdraft_limit_exceeded",
      available: -5n,
      overdraftLimit: 10n,
      amount: -6n,
    });
    expect(refusalFailure("insufficient_funds", withBalance(3n), DEFAULT_POLICY, -4n)).to.deep.equal({
      kind: "insufficient_funds",
      balance: 3n,
      available: 3n,
      amount: -4n,
    });
  });

  it("validates a policy request", () => {
    const fine = parsePolicy({ userId: "a", currency: "", overdraftLimit: 0n, state: "frozen" }, "EUR");
    expect(fine).to.deep.equal({
      ok: true,
      value: { userId: "a", currency: "EUR", overdraftLimit: 0n, state: "frozen" },
    });
    const bad = parsePolicy({ userId: "a", currency: "", overdraftLimit: 10n ** 15n + 1n, state: undefined }, "USD");
    expect(bad.ok === false && bad.violations.map((violation) => violation.field)).to.deep.equal([
      "overdraft_limit",
      "status",
    ]);
  });
});

/**
 * The transfer rule and its validation, as pure functions: what is posted, what is refused, and
 * how a replay is told from a reused key.
 */
import { expect } from "chai";
import { emptyAccount, applyEntry } from "../../src/domain/account.js";
import { decideTransfer, parseTransfer, transferOutcome, type TransferInput } from "../../src/domain/transfer.js";
import { DEFAULT_POLICY, type AccountState, type Entry } from "../../src/store/store.js";

const input: TransferInput = {
  payerUserId: "alice",
  payeeUserId: "bob",
  currency: "USD",
  amount: 30n,
  idempotencyKey: "t",
};

function withBalance(balance: bigint): AccountState {
  const state = applyEntry(emptyAccount(0), { kind: "adjust", status: "applied", amount: balance, delta: balance }, 0);
  if (state === undefined) throw new Error("unreachable");
  return state;
}

function leg(id: bigint, userId: string, amount: bigint, extra: Partial<Entry> = {}): Entry {
  return {
    id,
    userId,
    currency: "USD",
    kind: "adjust",
    status: "applied",
    amount,
    delta: amount,
    balanceAfter: 0n,
    idempotencyKey: null,
    externalId: null,
    occurredAtMs: 0,
    createdAtMs: 0,
    groupId: 7n,
    ...extra,
  };
}

describe("the transfer rule (unit)", () => {
  it("posts a debit of the payer and a credit of the payee that sum to zero", () => {
    const verdict = decideTransfer(input)([withBalance(100n), undefined], 5);
    if (verdict.type !== "post") throw new Error("expected post");
    expect(
      verdict.legs.map((posted) => [posted.account.userId, posted.entry.amount, posted.next.balance]),
    ).to.deep.equal([
      ["alice", -30n, 70n],
      ["bob", 30n, 30n],
    ]);
  });

  it("posts when the payer's balance equals the amount, refuses one unit more", () => {
    expect(decideTransfer(input)([withBalance(30n), undefined], 0).type).to.equal("post");
    expect(decideTransfer(input)([withBalance(29n), undefined], 0)).to.deep.equal({
      type: "reject",
      reason: "insufficient_funds",
    });
    expect(decideTransfer(input)([undefined, undefined], 0).type).to.equal("reject");
  });

  it("refuses with balance_overflow when the payee's balance would leave int64", () => {
    const verdict = decideTransfer(input)([withBalance(100n), withBalance(2n ** 63n - 10n)], 0);
    expect(verdict).to.deep.equal({ type: "reject", reason: "balance_overflow" });
  });

  it("validates every field at once", () => {
    const parsed = parseTransfer(
      { payerUserId: "a b", payeeUserId: "", amount: -1n, currency: "XXZ", idempotencyKey: "has space" },
      "USD",
    );
    if (parsed.ok) throw new Error("expected violations");
    expect(parsed.violations.map((violation) => violation.field)).to.deep.equal([
      "payer_user_id",
      "payee_user_id",
      "amount",
      "currency",
      "idempotency_key",
    ]);
    const tooBig = parseTransfer(
      { payerUserId: "a", payeeUserId: "b", amount: 11n, currency: "", idempotencyKey: "" },
      "EUR",
      10n,
    );
    expect(tooBig.ok).to.equal(false);
    const fine = parseTransfer(
      { payerUserId: "a", payeeUserId: "b", amount: 10n, currency: "", idempotencyKey: "" },
      "EUR",
      10n,
    );
    expect(fine).to.deep.equal({
      ok: true,
      value: { payerUserId: "a", payeeUserId: "b", amount: 10n, currency: "EUR", idempotencyKey: null },
    });
  });

  it("tells a replay from a reused key, field by field", () => {
    const entries = [leg(7n, "alice", -30n), leg(8n, "bob", 30n)];
    const replay = transferOutcome(input, { type: "existing", groupId: 7n, entries });
    expect(replay.ok && replay.value.replayed).to.equal(true);
    const reuse = (changed: Partial<TransferInput>, groupId: bigint | null = 7n, legs = entries) => {
      const outcome = transferOutcome({ ...input, ...changed }, { type: "existing", groupId, entries: legs });
      return outcome.ok ? undefined : outcome.failure.kind === "idempotency_key_reused" && outcome.failure.field;
    };
    expect(reuse({ amount: 31n })).to.equal("amount");
    expect(reuse({ currency: "EUR" })).to.equal("currency");
    expect(reuse({ payeeUserId: "carol" })).to.equal("payee_user_id");
    expect(reuse({}, null, [leg(3n, "alice", 30n, { kind: "load" })])).to.equal("method");
    // A batch's group that begins with the same two legs is not this transfer.
    const batch = transferOutcome(input, { type: "existing", groupId: 7n, entries, batchDigest: "0".repeat(64) });
    expect(batch.ok ? undefined : batch.failure).to.deep.include({ kind: "idempotency_key_reused", field: "method" });
  });

  it("reports the payer's balance and the debit in an insufficient_funds failure", () => {
    const outcome = transferOutcome(input, {
      type: "rejected",
      reason: "insufficient_funds",
      current: [withBalance(12n), undefined],
      policies: [DEFAULT_POLICY, DEFAULT_POLICY],
    });
    expect(outcome).to.deep.equal({
      ok: false,
      failure: { kind: "insufficient_funds", balance: 12n, available: 12n, amount: -30n },
    });
  });
});

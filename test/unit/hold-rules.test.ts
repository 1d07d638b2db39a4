/**
 * Holds as pure rules: placing (approved, declined, refused), capturing (partial, final, used up,
 * over-capture within and past the tolerance, the excess checked against the policy), voiding,
 * expiring (at the commit time, never twice), the available balance in every debit, and the
 * validation of the hold calls.
 */
import { expect } from "chai";
import { applyEntry, emptyAccount } from "../../src/domain/account.js";
import { captureLimit, decideCapture, decideExpire, decidePlaceHold, decideVoid } from "../../src/domain/hold.js";
import {
  HOLD_SETTINGS_DEFAULT,
  parseHoldAction,
  parseHoldAuthorize,
  type RawHoldAuthorizeInput,
} from "../../src/domain/hold-input.js";
import { availableOf, debitRefusal } from "../../src/domain/policy.js";
import { decideAdjust, decideAuthorize } from "../../src/domain/rules.js";
import { decideTransfer } from "../../src/domain/transfer.js";
import { DEFAULT_POLICY, type AccountState, type Hold } from "../../src/store/store.js";

const NOW = 1_000_000;
const HOUR_MS = 3_600_000;

function account(balance: bigint, held = 0n): AccountState {
  const state = applyEntry(emptyAccount(0), { kind: "adjust", status: "applied", amount: balance, delta: balance }, 0);
  if (state === undefined) throw new Error("unreachable");
  return { ...state, held };
}

function hold(overrides: Partial<Hold> = {}): Hold {
  return {
    holdId: 7n,
    userId: "u",
    currency: "USD",
    amount: 100n,
    captured: 0n,
    status: "active",
    expiresAtMs: NOW + HOUR_MS,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...overrides,
  };
}

const capture = (amount: bigint, final = false, overcaptureBps = 0n) =>
  decideCapture({ userId: "u", currency: "USD", amount, final, overcaptureBps });

describe("hold rules (unit)", () => {
  it("places a hold that the available balance covers: held grows, the balance does not", () => {
    const verdict = decidePlaceHold(60n, { ttlMs: HOUR_MS })(account(100n, 40n), NOW, DEFAULT_POLICY);
    expect(verdict.type).to.equal("post");
    if (verdict.type !== "post") return;
    expect(verdict.entry).to.deep.equal({ kind: "hold", status: "applied", amount: 60n, delta: 0n, heldDelta: 60n });
    expect([verdict.next.balance, verdict.next.held]).to.deep.equal([100n, 100n]);
    expect(verdict.hold).to.deep.equal({ amount: 60n, captured: 0n, status: "active", expiresAtMs: NOW + HOUR_MS });
    const at = decidePlaceHold(1n, { atMs: NOW + 5 })(account(1n), NOW, DEFAULT_POLICY);
    expect(at.type === "post" && at.hold?.expiresAtMs).to.equal(NOW + 5);
  });

  it("records a decline when held money leaves too little available, and refuses frozen or closed", () => {
    const declined = decidePlaceHold(61n, { ttlMs: HOUR_MS })(account(100n, 40n), NOW, DEFAULT_POLICY);
    expect(declined.type === "post" && declined.entry).to.deep.equal({
      kind: "hold",
      status: "declined",
      amount: 61n,
      delta: 0n,
      heldDelta: 0n,
    });
    expect(declined.type === "post" && declined.hold).to.equal(undefined);
    const overdraft = decidePlaceHold(80n, { ttlMs: 1 })(account(10n), NOW, { overdraftLimit: 70n, state: "active" });
    expect(overdraft.type === "post" && overdraft.entry.status).to.equal("applied");
    for (const state of ["frozen", "closed"] as const) {
      expect(decidePlaceHold(1n, { ttlMs: 1 })(account(100n), NOW, { overdraftLimit: 0n, state })).to.deep.equal({
        type: "reject",
        reason: `account_${state}`,
      });
    }
  });

  it("checks every debit against balance minus held", () => {
    const busy = account(100n, 70n);
    expect(availableOf(busy)).to.equal(30n);
    expect(debitRefusal(busy, 30n, DEFAULT_POLICY)).to.equal(undefined);
    expect(debitRefusal(busy, 31n, DEFAULT_POLICY)).to.equal("insufficient_funds");
    expect(decideAdjust(-31n)(busy, NOW, DEFAULT_POLICY)).to.deep.equal({
      type: "reject",
      reason: "insufficient_funds",
    });
    const authorized = decideAuthorize(31n)(busy, NOW, DEFAULT_POLICY);
    expect(authorized.type === "post" && authorized.entry.status).to.equal("declined");
    const input = { payerUserId: "u", payeeUserId: "v", currency: "USD", amount: 31n, idempotencyKey: null };
    expect(decideTransfer(input)([busy, undefined], NOW, [DEFAULT_POLICY, DEFAULT_POLICY])).to.deep.equal({
      type: "reject",
      reason: "insufficient_funds",
    });
  });

  it("captures part of a hold, then the rest, and the hold is used up", () => {
    const first = capture(30n)(account(100n, 100n), NOW, DEFAULT_POLICY, hold());
    expect(first.type === "post" && first.entry).to.deep.equal({
      kind: "hold_capture",
      status: "applied",
      amount: 30n,
      delta: -30n,
      heldDelta: -30n,
    });
    expect(first.type === "post" && [first.next.balance, first.next.held]).to.deep.equal([70n, 70n]);
    expect(first.type === "post" && first.hold?.status).to.equal("active");
    const rest = capture(70n)(account(70n, 70n), NOW, DEFAULT_POLICY, hold({ captured: 30n }));
    expect(rest.type === "post" && rest.hold).to.deep.include({ captured: 100n, status: "captured" });
    expect(rest.type === "post" && rest.next.held).to.equal(0n);
  });

  it("releases the rest with a final capture", () => {
    const verdict = capture(30n, true)(account(100n, 100n), NOW, DEFAULT_POLICY, hold());
    expect(verdict.type === "post" && verdict.entry.heldDelta).to.equal(-100n);
    expect(verdict.type === "post" && [verdict.next.balance, verdict.next.held]).to.deep.equal([70n, 0n]);
    expect(verdict.type === "post" && verdict.hold?.status).to.equal("captured");
  });

  it("over-captures up to the tolerance, checking the excess against available and the policy", () => {
    expect(captureLimit(100n, 1500n)).to.equal(115n);
    const tip = capture(115n, false, 1500n)(account(200n, 100n), NOW, DEFAULT_POLICY, hold());
    expect(tip.type === "post" && tip.entry.heldDelta).to.equal(-100n);
    expect(tip.type === "post" && [tip.next.balance, tip.next.held]).to.deep.equal([85n, 0n]);
    expect(capture(116n, false, 1500n)(account(200n, 100n), NOW, DEFAULT_POLICY, hold())).to.deep.equal({
      type: "reject",
      reason: "capture_exceeds_hold",
    });
    expect(capture(101n)(account(200n, 100n), NOW, DEFAULT_POLICY, hold())).to.deep.equal({
      type: "reject",
      reason: "capture_exceeds_hold",
    });
    // Available is 100 - 100 = 0: the excess of 15 finds nothing to take.
    expect(capture(115n, false, 1500n)(account(100n, 100n), NOW, DEFAULT_POLICY, hold())).to.deep.equal({
      type: "reject",
      reason: "insufficient_funds",
    });
    const frozen = { overdraftLimit: 0n, state: "frozen" } as const;
    expect(capture(100n)(account(100n, 100n), NOW, frozen, hold()).type).to.equal("post");
    expect(capture(101n, false, 1500n)(account(200n, 100n), NOW, frozen, hold())).to.deep.equal({
      type: "reject",
      reason: "account_frozen",
    });
    const closed = { overdraftLimit: 0n, state: "closed" } as const;
    expect(capture(1n)(account(100n, 100n), NOW, closed, hold())).to.deep.equal({
      type: "reject",
      reason: "account_closed",
    });
  });

  it("refuses to act on a hold that is voided, expired, captured, unknown or another user's", () => {
    const cases: [Hold | undefined, string][] = [
      [hold({ status: "voided" }), "hold_voided"],
      [hold({ status: "expired" }), "hold_expired"],
      [hold({ expiresAtMs: NOW }), "hold_expired"],
      [hold({ status: "captured", captured: 100n }), "hold_captured"],
      [undefined, "hold_not_found"],
      [hold({ userId: "someone-else" }), "hold_not_found"],
    ];
    for (const [target, reason] of cases) {
      expect(capture(1n)(account(100n, 100n), NOW, DEFAULT_POLICY, target), reason).to.deep.equal({
        type: "reject",
        reason,
      });
      expect(decideVoid("u", "USD")(account(100n, 100n), NOW, DEFAULT_POLICY, target), reason).to.deep.equal({
        type: "reject",
        reason,
      });
    }
  });

  it("voids what is left, whatever the policy", () => {
    const closed = { overdraftLimit: 0n, state: "closed" } as const;
    const verdict = decideVoid("u", "USD")(account(100n, 100n), NOW, closed, hold({ captured: 40n }));
    expect(verdict.type === "post" && verdict.entry).to.deep.equal({
      kind: "hold_void",
      status: "applied",
      amount: 60n,
      delta: 0n,
      heldDelta: -60n,
    });
    expect(verdict.type === "post" && verdict.hold).to.deep.include({ captured: 40n, status: "voided" });
  });

  it("expires a due hold at the commit time, and never twice", () => {
    const due = hold({ expiresAtMs: NOW });
    const verdict = decideExpire()(account(100n, 100n), NOW, DEFAULT_POLICY, due);
    expect(verdict.type === "post" && verdict.entry.kind).to.equal("hold_expire");
    expect(verdict.type === "post" && verdict.next.held).to.equal(0n);
    expect(decideExpire()(account(100n, 100n), NOW - 1, DEFAULT_POLICY, due)).to.deep.equal({
      type: "reject",
      reason: "hold_not_due",
    });
    expect(decideExpire()(account(100n, 0n), NOW, DEFAULT_POLICY, hold({ status: "expired" }))).to.deep.equal({
      type: "reject",
      reason: "hold_expired",
    });
    expect(decideExpire()(account(100n, 0n), NOW, DEFAULT_POLICY, undefined)).to.deep.equal({
      type: "reject",
      reason: "hold_not_found",
    });
  });

  it("validates a manual-capture Authorize and its expiry", () => {
    const raw: RawHoldAuthorizeInput = {
      userId: "u",
      amount: 5n,
      currency: "",
      idempotencyKey: "",
      expiresAtMs: undefined,
      ttlSeconds: 0n,
    };
    const parse = (change: Partial<typeof raw>) =>
      parseHoldAuthorize({ ...raw, ...change }, HOLD_SETTINGS_DEFAULT, NOW, "USD");
    expect(parse({})).to.deep.equal({
      ok: true,
      value: { userId: "u", amount: 5n, currency: "USD", idempotencyKey: null, expiry: { ttlMs: 7 * 24 * HOUR_MS } },
    });
    expect(parse({ ttlSeconds: 60n })).to.deep.include({ ok: true });
    expect(parse({ expiresAtMs: NOW + 1 })).to.deep.include({ ok: true });
    const fields = (change: Partial<typeof raw>) => {
      const parsed = parse(change);
      return parsed.ok ? [] : parsed.violations.map((violation) => `${violation.field}:${violation.reason}`);
    };
    expect(fields({ expiresAtMs: NOW })).to.deep.equal(["expires_at:OUT_OF_RANGE"]);
    expect(fields({ expiresAtMs: NOW + 31 * 24 * HOUR_MS })).to.deep.equal(["expires_at:OUT_OF_RANGE"]);
    expect(fields({ ttlSeconds: -1n })).to.deep.equal(["ttl_seconds:OUT_OF_RANGE"]);
    expect(fields({ ttlSeconds: 31n * 24n * 3600n })).to.deep.equal(["ttl_seconds:OUT_OF_RANGE"]);
    expect(fields({ ttlSeconds: 1n, expiresAtMs: NOW + 1 })).to.deep.equal(["ttl_seconds:CONFLICT"]);
    expect(fields({ amount: 0n, userId: "" })).to.deep.equal(["user_id:REQUIRED", "amount:OUT_OF_RANGE"]);
  });

  it("validates Capture and Void", () => {
    const raw = { userId: "u", holdId: 7n, amount: 5n, final: true, idempotencyKey: "k" };
    expect(parseHoldAction(raw, true)).to.deep.equal({ ok: true, value: { ...raw } });
    expect(parseHoldAction(raw, false)).to.deep.equal({ ok: true, value: { ...raw, amount: 0n, final: false } });
    const bad = parseHoldAction({ ...raw, holdId: 0n, amount: 0n }, true);
    expect(bad.ok ? [] : bad.violations.map((violation) => violation.field)).to.deep.equal(["hold_id", "amount"]);
  });
});

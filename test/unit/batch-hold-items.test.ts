/**
 * The hold rows of the batch table as pure functions: a manual-capture authorize places a hold,
 * captures and voids act on the hold as earlier items of the batch left it, every refusal names
 * its item with the hold's figures, and the digest tells the hold fields apart.
 */
import { expect } from "chai";
import { applyEntry, emptyAccount } from "../../src/domain/account.js";
import { batchAccounts, batchDigest, batchHoldIds, planBatch, type BatchItem } from "../../src/domain/batch.js";
import { parseBatch, type RawBatchItem } from "../../src/domain/batch-parse.js";
import { HOLD_SETTINGS_DEFAULT } from "../../src/domain/hold-input.js";
import { DEFAULT_POLICY, type AccountState, type Hold } from "../../src/store/store.js";

const USD = "USD";
const NOW_MS = 1_000;

/** An account with `balance` of which `held` is reserved. */
function account(balance: bigint, held: bigint): AccountState {
  const loaded = applyEntry(emptyAccount(0), { kind: "load", status: "applied", amount: balance, delta: balance }, 0);
  const draft = { kind: "hold" as const, status: "applied" as const, amount: held, delta: 0n, heldDelta: held };
  const state = loaded === undefined ? undefined : applyEntry(loaded, draft, 0);
  if (state === undefined) throw new Error("unreachable");
  return state;
}

function hold(holdId: bigint, amount: bigint, status: Hold["status"] = "active", captured = 0n): Hold {
  const at = { createdAtMs: 0, updatedAtMs: 0, expiresAtMs: NOW_MS + 60_000 };
  return { holdId, userId: "u", currency: USD, amount, captured, status, ...at };
}

const capture = (holdId: bigint, amount: bigint, final = false, kind: "capture" | "void" = "capture"): BatchItem => ({
  kind,
  userId: "u",
  holdId,
  currency: USD,
  amount,
  final,
  overcaptureBps: 0n,
});
const voidItem = (holdId: bigint): BatchItem => capture(holdId, 0n, false, "void");
const place = (amount: bigint): BatchItem => ({
  kind: "hold",
  userId: "u",
  currency: USD,
  amount,
  expiry: { ttlMs: 5 },
});

function plan(items: BatchItem[], state: AccountState | undefined, holds: Hold[]) {
  const byId = new Map(holds.map((stored) => [stored.holdId, stored]));
  const policies = batchAccounts(items).map(() => DEFAULT_POLICY);
  return planBatch(
    items,
    [state],
    NOW_MS,
    policies,
    batchHoldIds(items).map((holdId) => byId.get(holdId)),
  );
}

describe("the batch's hold items (unit)", () => {
  it("places a hold, captures one and voids another, each leg carrying its hold's new state", () => {
    const result = plan([place(5n), capture(1n, 10n), voidItem(2n)], account(100n, 30n), [
      hold(1n, 10n),
      hold(2n, 20n),
    ]);
    if (result.type !== "post") throw new Error(`expected post, got ${JSON.stringify(result)}`);
    expect(
      result.legs.map((leg) => [
        leg.entry.kind,
        leg.entry.delta,
        leg.entry.heldDelta,
        leg.hold?.holdId,
        leg.hold?.state.status,
      ]),
    ).to.deep.equal([
      ["hold", 0n, 5n, null, "active"],
      ["hold_capture", -10n, -10n, 1n, "captured"],
      ["hold_void", 0n, -20n, 2n, "voided"],
    ]);
    expect(result.legs.map((leg) => [leg.next.balance, leg.next.held])).to.deep.equal([
      [100n, 35n],
      [90n, 25n],
      [90n, 5n],
    ]);
    expect(result.legs[0]?.hold?.state.expiresAtMs).to.equal(NOW_MS + 5);
  });

  it("sees a hold as the earlier items left it: two captures cannot pass it", () => {
    const result = plan([capture(1n, 6n), capture(1n, 6n)], account(100n, 10n), [hold(1n, 10n)]);
    expect(result).to.deep.include({ type: "reject", itemIndex: 1, reason: "capture_exceeds_hold" });
    if (result.type !== "reject") throw new Error("unreachable");
    expect(result.failure).to.deep.equal({
      kind: "hold_refused",
      reason: "capture_exceeds_hold",
      holdId: 1n,
      amount: 10n,
      captured: 6n,
      remaining: 4n,
      captureLimit: 10n,
    });
    const voidedLater = plan([voidItem(1n), capture(1n, 1n)], account(100n, 10n), [hold(1n, 10n)]);
    expect(voidedLater).to.deep.include({ type: "reject", itemIndex: 1, reason: "hold_voided" });
  });

  it("refuses a voided, captured, expired or missing hold with the precise reason", () => {
    const cases: [Hold | undefined, string][] = [
      [hold(1n, 10n, "voided"), "hold_voided"],
      [hold(1n, 10n, "captured", 10n), "hold_captured"],
      [hold(1n, 10n, "expired"), "hold_expired"],
      [{ ...hold(1n, 10n), expiresAtMs: NOW_MS }, "hold_expired"],
      [undefined, "hold_not_found"],
    ];
    for (const [stored, reason] of cases) {
      const result = plan([capture(1n, 1n)], account(100n, 10n), stored === undefined ? [] : [stored]);
      expect(result).to.deep.include({ type: "reject", itemIndex: 0, reason });
    }
    const missing = plan([voidItem(9n)], account(100n, 0n), []);
    expect(missing).to.deep.include({ failure: { kind: "hold_not_found", holdId: 9n } });
  });

  it("fails a placement the available balance does not cover instead of recording a decline", () => {
    const result = plan([place(80n)], account(100n, 30n), []);
    expect(result).to.deep.include({ type: "reject", itemIndex: 0, reason: "insufficient_funds" });
  });

  it("names every hold once, and the digest tells the hold fields apart", () => {
    expect(batchHoldIds([capture(2n, 1n), voidItem(1n), capture(2n, 1n), place(1n)])).to.deep.equal([2n, 1n]);
    const digests = [
      [capture(1n, 5n)],
      [capture(1n, 5n, true)],
      [capture(2n, 5n)],
      [capture(1n, 6n)],
      [voidItem(1n)],
      [place(5n)],
      [{ ...place(5n), expiry: { ttlMs: 6 } }],
      [{ kind: "authorize", userId: "u", currency: USD, amount: 5n } as BatchItem],
    ].map(batchDigest);
    expect(new Set(digests).size).to.equal(digests.length);
  });

  describe("validation", () => {
    const limits = { defaultCurrency: USD, amountMinorMax: 1000n, itemsMax: 5, holds: HOLD_SETTINGS_DEFAULT, nowMs: 0 };
    const fields = (items: RawBatchItem[]) => {
      const parsed = parseBatch({ items, idempotencyKey: "" }, limits);
      return parsed.ok ? [] : parsed.violations.map((violation) => `${violation.field} ${violation.reason}`);
    };
    const authorize = { kind: "authorize" as const, userId: "u", amount: 5n, currency: "" };
    const action = { userId: "u", holdId: 1n, amount: 5n, final: false };

    it("names bad hold fields by their path", () => {
      expect(
        fields([
          { ...action, kind: "capture", holdId: 0n, amount: 0n },
          { ...action, kind: "void", userId: "" },
          { ...authorize, ttlSeconds: 5n },
          { ...authorize, manualCapture: true, ttlSeconds: -1n },
        ]),
      ).to.deep.equal([
        "items[0].capture.hold_id REQUIRED",
        "items[0].capture.amount OUT_OF_RANGE",
        "items[1].void.user_id REQUIRED",
        "items[2].authorize.ttl_seconds MANUAL_CAPTURE_ONLY",
        "items[3].authorize.ttl_seconds OUT_OF_RANGE",
      ]);
    });

    it("parses a manual-capture authorize as a hold with its lifetime, a void without an amount", () => {
      const parsed = parseBatch(
        {
          items: [
            { ...authorize, manualCapture: true, ttlSeconds: 60n },
            { ...action, kind: "void" },
          ],
          idempotencyKey: "",
        },
        limits,
      );
      expect(parsed.ok && parsed.value.items).to.deep.equal([
        { kind: "hold", userId: "u", currency: USD, amount: 5n, expiry: { ttlMs: 60_000 } },
        { kind: "void", userId: "u", holdId: 1n, currency: "", amount: 0n, final: false, overcaptureBps: 0n },
      ]);
    });
  });
});

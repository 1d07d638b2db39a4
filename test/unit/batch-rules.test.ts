/**
 * The atomic batch as pure functions: validation of every item, the decision of items in order
 * against running states, every refusal naming its item, and how a replay is told from a key
 * reused for other items.
 */
import { expect } from "chai";
import { applyEntry, emptyAccount } from "../../src/domain/account.js";
import {
  batchAccounts,
  batchDigest,
  batchOutcome,
  batchOwner,
  planBatch,
  type BatchInput,
  type BatchItem,
} from "../../src/domain/batch.js";
import { parseBatch, type RawBatchItem } from "../../src/domain/batch-parse.js";
import { DEFAULT_POLICY, type AccountPolicy, type AccountState, type Entry } from "../../src/store/store.js";

const USD = "USD";
const limits = { defaultCurrency: USD, amountMinorMax: 1000n, itemsMax: 3 };

function withBalance(balance: bigint): AccountState {
  const state = applyEntry(emptyAccount(0), { kind: "adjust", status: "applied", amount: balance, delta: balance }, 0);
  if (state === undefined) throw new Error("unreachable");
  return state;
}

const load = (userId: string, amount: bigint): BatchItem => ({ kind: "load", userId, currency: USD, amount });
const authorize = (userId: string, amount: bigint): BatchItem => ({ kind: "authorize", userId, currency: USD, amount });
const adjust = (userId: string, amount: bigint): BatchItem => ({ kind: "adjust", userId, currency: USD, amount });
const transfer = (payerUserId: string, payeeUserId: string, amount: bigint): BatchItem => ({
  kind: "transfer",
  payerUserId,
  payeeUserId,
  currency: USD,
  amount,
});

/** Plans `items` with the given starting balances and policies by user (absent: no account, default policy). */
function plan(items: BatchItem[], balances: Record<string, bigint> = {}, policies: Record<string, AccountPolicy> = {}) {
  const accounts = batchAccounts(items);
  const current = accounts.map((account) => {
    const balance = balances[account.userId];
    return balance === undefined ? undefined : withBalance(balance);
  });
  return planBatch(
    items,
    current,
    5,
    accounts.map((account) => policies[account.userId] ?? DEFAULT_POLICY),
  );
}

function entryOf(id: bigint, userId: string, kind: Entry["kind"], amount: bigint): Entry {
  return {
    id,
    userId,
    currency: USD,
    kind,
    status: "applied",
    amount,
    delta: kind === "authorize" ? -amount : amount,
    balanceAfter: 0n,
    idempotencyKey: null,
    externalId: null,
    occurredAtMs: 0,
    createdAtMs: 0,
    groupId: id,
  };
}

describe("the atomic batch (unit)", () => {
  describe("validation", () => {
    // Every field any kind reads, so that one helper builds an item of each kind (and of none).
    const raw = (item: { kind: RawBatchItem["kind"] } & Record<string, unknown>): RawBatchItem => ({
      userId: "alice",
      amount: 5n,
      currency: "",
      payerUserId: "alice",
      payeeUserId: "bob",
      holdId: 1n,
      final: false,
      ...item,
    });
    const fields = (items: RawBatchItem[], idempotencyKey = "") => {
      const parsed = parseBatch({ items, idempotencyKey }, limits);
      return parsed.ok ? [] : parsed.violations.map((violation) => `${violation.field} ${violation.reason}`);
    };

    it("refuses an empty batch and one past the item limit", () => {
      expect(fields([])).to.deep.equal(["items REQUIRED"]);
      const four = Array.from({ length: 4 }, () => raw({ kind: "load" }));
      expect(fields(four)).to.deep.equal(["items TOO_MANY"]);
      expect(fields(four.slice(0, 3))).to.deep.equal([]);
    });

    it("names every invalid item by its path, and the key", () => {
      expect(
        fields(
          [
            raw({ kind: "load", amount: 0n }),
            raw({ kind: undefined }),
            raw({ kind: "transfer", payeeUserId: "alice", currency: "usd" }),
          ],
          "has space",
        ),
      ).to.deep.equal([
        "idempotency_key INVALID_FORMAT",
        "items[0].load.amount OUT_OF_RANGE",
        "items[1] REQUIRED",
        "items[2].transfer.payee_user_id SAME_AS_PAYER",
        "items[2].transfer.currency INVALID_FORMAT",
      ]);
      expect(fields([raw({ kind: "adjust", amount: 0n }), raw({ kind: "authorize", amount: 1001n })])).to.deep.equal([
        "items[0].adjust.amount OUT_OF_RANGE",
        "items[1].authorize.amount OUT_OF_RANGE",
      ]);
    });

    it("resolves the default currency and an empty key", () => {
      const parsed = parseBatch({ items: [raw({ kind: "adjust", amount: -5n })], idempotencyKey: "" }, limits);
      expect(parsed).to.deep.equal({
        ok: true,
        value: { items: [{ kind: "adjust", userId: "alice", currency: USD, amount: -5n }], idempotencyKey: null },
      });
    });
  });

  describe("decision", () => {
    it("applies items in order against running balances: a load then a debit of one account", () => {
      const result = plan([load("alice", 10n), authorize("alice", 10n), transfer("bob", "alice", 4n)], { bob: 4n });
      if (result.type !== "post") throw new Error(`expected post, got ${JSON.stringify(result)}`);
      expect(
        result.legs.map((leg) => [leg.account.userId, leg.entry.kind, leg.entry.delta, leg.next.balance]),
      ).to.deep.equal([
        ["alice", "load", 10n, 10n],
        ["alice", "authorize", -10n, 0n],
        ["bob", "adjust", -4n, 0n],
        ["alice", "adjust", 4n, 4n],
      ]);
    });

    it("names the account once each, in order of mention, owned by the first item's user", () => {
      const items = [transfer("bob", "alice", 1n), load("alice", 1n), { ...load("alice", 1n), currency: "EUR" }];
      expect(batchAccounts(items)).to.deep.equal([
        { userId: "bob", currency: USD },
        { userId: "alice", currency: USD },
        { userId: "alice", currency: "EUR" },
      ]);
      expect(batchOwner(items)).to.equal("bob");
    });

    it("fails at the first item the running balance does not cover, with that balance", () => {
      const result = plan([load("alice", 10n), adjust("alice", -7n), adjust("alice", -4n), load("bob", 1n)]);
      expect(result).to.deep.equal({
        type: "reject",
        itemIndex: 2,
        reason: "insufficient_funds",
        failure: { kind: "insufficient_funds", balance: 3n, available: 3n, amount: -4n },
      });
    });

    it("fails the batch on an authorization that would be declined, with the decline's reason", () => {
      const result = plan([authorize("alice", 6n)], { alice: 5n });
      expect(result).to.deep.equal({
        type: "reject",
        itemIndex: 0,
        reason: "insufficient_funds",
        failure: { kind: "insufficient_funds", balance: 5n, available: 5n, amount: -6n },
      });
    });

    it("enforces the overdraft limit with the available balance and the limit", () => {
      const limited = { overdraftLimit: 10n, state: "active" } as const;
      expect(plan([authorize("alice", 15n)], { alice: 5n }, { alice: limited }).type).to.equal("post");
      const result = plan([authorize("alice", 15n), transfer("alice", "bob", 1n)], { alice: 5n }, { alice: limited });
      expect(result).to.deep.equal({
        type: "reject",
        itemIndex: 1,
        reason: "overdraft_limit_exceeded",
        failure: {
          kind: "account_policy",
          reason: "overdraft_limit_exceeded",
          available: -10n,
          overdraftLimit: 10n,
          amount: -1n,
        },
      });
    });

    it("refuses a debit of a frozen account and anything touching a closed one", () => {
      const frozen = { overdraftLimit: 0n, state: "frozen" } as const;
      const closed = { overdraftLimit: 0n, state: "closed" } as const;
      expect(plan([load("alice", 5n)], {}, { alice: frozen }).type).to.equal("post");
      const debit = plan([load("alice", 5n), adjust("alice", -1n)], {}, { alice: frozen });
      expect(debit.type === "reject" && [debit.itemIndex, debit.failure.kind, debit.reason]).to.deep.equal([
        1,
        "account_policy",
        "account_frozen",
      ]);
      const payee = plan([load("alice", 5n), transfer("alice", "bob", 1n)], {}, { bob: closed });
      expect(payee.type === "reject" && [payee.itemIndex, payee.reason, payee.failure]).to.deep.equal([
        1,
        "account_closed",
        { kind: "account_policy", reason: "account_closed", available: 0n, overdraftLimit: 0n, amount: 1n },
      ]);
    });

    it("refuses with balance_overflow when an item would take a balance past int64", () => {
      const result = plan([load("alice", 5n), load("alice", 10n)], { alice: 2n ** 63n - 10n });
      expect(result.type === "reject" && [result.itemIndex, result.failure]).to.deep.equal([
        1,
        { kind: "balance_overflow" },
      ]);
    });
  });

  describe("outcome", () => {
    const input: BatchInput = { items: [load("alice", 10n), transfer("alice", "bob", 4n)], idempotencyKey: "b-1" };
    const entries = [
      entryOf(7n, "alice", "load", 10n),
      entryOf(8n, "alice", "adjust", -4n),
      entryOf(9n, "bob", "adjust", 4n),
    ];

    it("returns every entry with its item index, and a replay of the same items", () => {
      const applied = batchOutcome(input, { type: "applied", groupId: 7n, entries, before: [undefined, undefined] });
      expect(applied.ok && applied.value.entries.map(({ itemIndex, entry }) => [itemIndex, entry.id])).to.deep.equal([
        [0, 7n],
        [1, 8n],
        [1, 9n],
      ]);
      const digest = batchDigest(input.items);
      const replay = batchOutcome(input, { type: "existing", groupId: 7n, entries, batchDigest: digest });
      expect(replay.ok && [replay.value.batchId, replay.value.replayed]).to.deep.equal([7n, true]);
    });

    it("fails with idempotency_key_reused when the key recorded other items, or another method", () => {
      const stored = { type: "existing", groupId: 7n, entries, batchDigest: batchDigest(input.items) } as const;
      const reused = (items: BatchItem[], result: Parameters<typeof batchOutcome>[1] = stored) => {
        const outcome = batchOutcome({ ...input, items }, result);
        return outcome.ok ? undefined : outcome.failure;
      };
      const items = (field: string) => ({ kind: "idempotency_key_reused", idempotencyKey: "b-1", field });
      expect(reused([load("alice", 11n), transfer("alice", "bob", 4n)])).to.deep.equal(items("items"));
      expect(reused([load("alice", 10n), transfer("alice", "carol", 4n)])).to.deep.equal(items("items"));
      expect(reused([load("alice", 10n)])).to.deep.equal(items("items"));
      expect(reused([transfer("alice", "bob", 4n), load("alice", 10n)])).to.deep.equal(items("items"));
      expect(reused([{ ...load("alice", 10n), currency: "EUR" }, transfer("alice", "bob", 4n)])).to.deep.equal(
        items("items"),
      );
      // A lone entry (a Load) or a group without a digest (a Transfer) under the key: another method.
      const lone = { type: "existing", groupId: null, entries: [entryOf(7n, "alice", "load", 10n)] } as const;
      expect(reused([load("alice", 10n)], lone)).to.deep.equal(items("method"));
      const transferGroup = { type: "existing", groupId: 8n, entries: entries.slice(1) } as const;
      expect(reused([transfer("alice", "bob", 4n)], transferGroup)).to.deep.equal(items("method"));
    });

    it("digests the items' canonical form: equal items, equal digests; any change, another", () => {
      const digest = batchDigest(input.items);
      expect(digest).to.match(/^[0-9a-f]{64}$/);
      expect(batchDigest([load("alice", 10n), transfer("alice", "bob", 4n)])).to.equal(digest);
      expect(batchDigest([adjust("alice", 10n), transfer("alice", "bob", 4n)])).to.not.equal(digest);
      expect(batchDigest([load("alice", 10n), transfer("bob", "alice", 4n)])).to.not.equal(digest);
    });

    it("explains a refusal by running the decision again on the states the store read", () => {
      const outcome = batchOutcome(input, {
        type: "rejected",
        reason: "insufficient_funds",
        current: [withBalance(-20n), undefined],
        policies: [DEFAULT_POLICY, DEFAULT_POLICY],
      });
      expect(outcome).to.deep.equal({
        ok: false,
        failure: {
          kind: "batch_item_failed",
          itemIndex: 1,
          failure: { kind: "insufficient_funds", balance: -10n, available: -10n, amount: -4n },
        },
      });
    });
  });
});

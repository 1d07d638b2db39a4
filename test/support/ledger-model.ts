/**
 * A small reference model of the ledger's rules, written from the contract (proto/ledger/v1)
 * rather than from the code, for the model-based test: given the same calls, the service must
 * give the same answers.
 */
const INT64_MAX = 2n ** 63n - 1n;

export type Operation = "load" | "authorize" | "adjust" | "transfer" | "policy" | "hold" | "capture" | "void" | "batch";

/** A hold as the contract describes it; its id is the service's answer to the placing call. */
export interface ModelHold {
  readonly userId: string;
  readonly currency: string;
  readonly amount: bigint;
  captured: bigint;
  status: "active" | "captured" | "voided" | "expired";
  readonly expiresAtMs: number;
}

/** A hold's lifetime in the model's calls (ttl_seconds 60). */
export const MODEL_HOLD_TTL_MS = 60_000;

/** An account's policy as SetAccountPolicy sets it: no policy is limit 0, active. */
export interface ModelPolicy {
  readonly overdraftLimit: bigint;
  readonly state: "active" | "frozen" | "closed";
}

export interface ModelCall {
  readonly operation: Operation;
  readonly userId: string;
  /** Already resolved: the server's default replaces an empty currency. */
  readonly currency: string;
  readonly amount: bigint;
  readonly key: string | null;
  /** For a transfer: the payee (`userId` is the payer, who scopes the key). */
  readonly payeeUserId?: string;
  /** For a policy call: the policy to set (`amount` and `key` are unused). */
  readonly policy?: ModelPolicy;
  /** For a capture or a void: the hold's id, as the service answered it. */
  readonly holdId?: bigint;
  /** For a capture: release the rest. A replay does not compare it (the contract says so). */
  readonly final?: boolean;
  /**
   * For a batch: its items, unkeyed calls of the four mutations, captures and voids (`userId` is the first item's
   * user, who scopes the key; `amount` is unused).
   */
  readonly items?: readonly ModelCall[];
}

export interface ModelAccount {
  balance: bigint;
  earned: bigint;
  spent: bigint;
  loaded: bigint;
  authorized: bigint;
  declinedCount: bigint;
  entryCount: bigint;
  held: bigint;
}

/** What the model expects of one call. `recorded` answers carry the balance after. */
export type Expected =
  | {
      readonly code: "OK";
      readonly replayed: boolean;
      readonly balanceAfter: bigint;
      readonly approved?: boolean;
      readonly firstAnswer?: unknown;
    }
  | {
      readonly code: "ALREADY_EXISTS" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" | "NOT_FOUND";
      /** For a batch refused because of one item: that item's index. */
      readonly itemIndex?: number;
    };

interface Recorded {
  readonly call: ModelCall;
  readonly balanceAfter: bigint;
  readonly approved?: boolean;
  /** The service's first answer, which every replay must repeat. */
  answer?: unknown;
}

export class LedgerModel {
  readonly accounts = new Map<string, ModelAccount>();
  private readonly policies = new Map<string, ModelPolicy>();
  private readonly keys = new Map<string, Recorded>();
  /** Holds by the id the service gave them (`placed` learns it from the answer). */
  readonly holds = new Map<bigint, ModelHold>();
  /** The commit clock: the model's calls run at this instant. */
  nowMs = 0;

  constructor(
    startMs = 0,
    /** LEDGER_HOLD_OVERCAPTURE_BPS of the server under test. */
    private readonly overcaptureBps = 0n,
  ) {
    this.nowMs = startMs;
  }

  /** The service answered `holdId` for a hold the model approved: it is now known by that id. */
  placed(call: ModelCall, holdId: bigint): void {
    this.holds.set(holdId, {
      userId: call.userId,
      currency: call.currency,
      amount: call.amount,
      captured: 0n,
      status: "active",
      expiresAtMs: this.nowMs + MODEL_HOLD_TTL_MS,
    });
  }

  /** Time passes by `ms`, and the service's sweeper releases every hold due by then. */
  advance(ms: number): void {
    this.nowMs += ms;
    for (const hold of this.holds.values()) {
      if (hold.status !== "active" || hold.expiresAtMs > this.nowMs) continue;
      const account = this.current(hold.userId, hold.currency);
      const remaining = hold.amount - hold.captured;
      hold.status = "expired";
      this.accounts.set(`${hold.userId} ${hold.currency}`, {
        ...account,
        held: account.held - remaining,
        entryCount: account.entryCount + 1n,
      });
      saturate(this.current(hold.userId, hold.currency));
    }
  }

  account(userId: string, currency: string): ModelAccount | undefined {
    return this.accounts.get(`${userId} ${currency}`);
  }

  private policyOf(userId: string, currency: string): ModelPolicy {
    return this.policies.get(`${userId} ${currency}`) ?? { overdraftLimit: 0n, state: "active" };
  }

  /** Applies `call` to the model and says what the service must answer. */
  apply(call: ModelCall): { expected: Expected; recorded?: Recorded } {
    if (call.operation === "policy") {
      this.policies.set(`${call.userId} ${call.currency}`, call.policy ?? { overdraftLimit: 0n, state: "active" });
      return { expected: { code: "OK", replayed: false, balanceAfter: 0n } };
    }
    if (call.operation === "batch") {
      // A batch's captures and voids name their holds before anything else is looked at, as
      // single ones do: an unknown hold or another user's is NOT_FOUND at its item.
      const itemIndex = (call.items ?? []).findIndex(
        (item) =>
          (item.operation === "capture" || item.operation === "void") &&
          this.holds.get(item.holdId ?? 0n)?.userId !== item.userId,
      );
      if (itemIndex >= 0) return { expected: { code: "NOT_FOUND", itemIndex } };
    }
    let hold: ModelHold | undefined;
    if (call.operation === "capture" || call.operation === "void") {
      // Another user's hold is unknown to this user, whatever key the call carries.
      hold = call.holdId === undefined ? undefined : this.holds.get(call.holdId);
      if (hold === undefined || hold.userId !== call.userId) return { expected: { code: "NOT_FOUND" } };
      call = { ...call, currency: hold.currency };
    }
    if (call.key !== null) {
      const previous = this.keys.get(`${call.userId} ${call.key}`);
      if (previous !== undefined) {
        const same =
          previous.call.operation === call.operation &&
          previous.call.currency === call.currency &&
          (previous.call.amount === call.amount || call.operation === "void") &&
          previous.call.payeeUserId === call.payeeUserId &&
          previous.call.holdId === call.holdId &&
          sameItems(previous.call.items, call.items);
        if (!same) return { expected: { code: "ALREADY_EXISTS" } };
        return {
          expected: {
            code: "OK",
            replayed: true,
            balanceAfter: previous.balanceAfter,
            ...(previous.approved === undefined ? {} : { approved: previous.approved }),
            firstAnswer: previous.answer,
          },
        };
      }
    }
    if (call.operation === "batch") return this.batch(call);
    if (call.operation === "transfer") return this.transfer(call);
    if (hold !== undefined) return this.settleHold(call, hold);
    const current = this.current(call.userId, call.currency);
    const policy = this.policyOf(call.userId, call.currency);
    const available = current.balance - current.held;
    const debit =
      call.operation === "authorize" || call.operation === "hold" || (call.operation === "adjust" && call.amount < 0n);
    if (policy.state === "closed" || (debit && policy.state === "frozen")) {
      return { expected: { code: "FAILED_PRECONDITION" } };
    }
    const next = { ...current, entryCount: current.entryCount + 1n };
    let approved: boolean | undefined;
    switch (call.operation) {
      case "load":
        next.balance += call.amount;
        next.earned += call.amount;
        next.loaded += call.amount;
        break;
      case "hold":
        approved = available - call.amount >= -policy.overdraftLimit;
        if (approved) next.held += call.amount;
        else next.declinedCount += 1n;
        if (next.held > INT64_MAX) return { expected: { code: "OUT_OF_RANGE" } };
        break;
      case "authorize":
        approved = available - call.amount >= -policy.overdraftLimit;
        if (approved) {
          next.balance -= call.amount;
          next.spent += call.amount;
          next.authorized += call.amount;
        } else {
          next.declinedCount += 1n;
        }
        break;
      case "adjust":
        if (call.amount < 0n && available + call.amount < -policy.overdraftLimit)
          return { expected: { code: "FAILED_PRECONDITION" } };
        next.balance += call.amount;
        if (call.amount > 0n) next.earned += call.amount;
        else next.spent -= call.amount;
        break;
    }
    // Only the balance is refused past int64; lifetime totals saturate at 2^63 - 1.
    if (next.balance > INT64_MAX || next.balance < -INT64_MAX - 1n) return { expected: { code: "OUT_OF_RANGE" } };
    saturate(next);
    this.accounts.set(`${call.userId} ${call.currency}`, next);
    const recorded: Recorded = { call, balanceAfter: next.balance, ...(approved === undefined ? {} : { approved }) };
    if (call.key !== null) this.keys.set(`${call.userId} ${call.key}`, recorded);
    return {
      expected: {
        code: "OK",
        replayed: false,
        balanceAfter: next.balance,
        ...(approved === undefined ? {} : { approved }),
      },
      recorded,
    };
  }

  private current(userId: string, currency: string): ModelAccount {
    return (
      this.account(userId, currency) ?? {
        balance: 0n,
        earned: 0n,
        spent: 0n,
        loaded: 0n,
        authorized: 0n,
        declinedCount: 0n,
        entryCount: 0n,
        held: 0n,
      }
    );
  }

  /**
   * A capture or a void of one of the caller's holds: refused once the hold is voided, expired
   * (its instant passed, swept or not) or used up; a capture past amount + tolerance is refused,
   * and its part beyond what is still reserved is a debit like any other.
   */
  private settleHold(call: ModelCall, hold: ModelHold): { expected: Expected; recorded?: Recorded } {
    if (hold.status !== "active" || this.nowMs >= hold.expiresAtMs)
      return { expected: { code: "FAILED_PRECONDITION" } };
    const current = this.current(call.userId, call.currency);
    const policy = this.policyOf(call.userId, call.currency);
    const remaining = hold.amount - hold.captured;
    const next = { ...current, entryCount: current.entryCount + 1n };
    if (call.operation === "void") {
      next.held -= remaining;
      hold.status = "voided";
    } else {
      if (policy.state === "closed") return { expected: { code: "FAILED_PRECONDITION" } };
      const limit = hold.amount + (hold.amount * this.overcaptureBps) / 10_000n;
      if (hold.captured + call.amount > limit) return { expected: { code: "FAILED_PRECONDITION" } };
      const excess = call.amount > remaining ? call.amount - remaining : 0n;
      if (excess > 0n) {
        if (policy.state === "frozen") return { expected: { code: "FAILED_PRECONDITION" } };
        if (current.balance - current.held - excess < -policy.overdraftLimit) {
          return { expected: { code: "FAILED_PRECONDITION" } };
        }
      }
      next.balance -= call.amount;
      next.spent += call.amount;
      next.authorized += call.amount;
      next.held -= call.final === true || call.amount >= remaining ? remaining : call.amount;
      hold.captured += call.amount;
      if (call.final === true || hold.captured >= hold.amount) hold.status = "captured";
    }
    saturate(next);
    this.accounts.set(`${call.userId} ${call.currency}`, next);
    const recorded: Recorded = { call, balanceAfter: next.balance };
    if (call.key !== null) this.keys.set(`${call.userId} ${call.key}`, recorded);
    return { expected: { code: "OK", replayed: false, balanceAfter: next.balance }, recorded };
  }

  /**
   * A batch: its items applied in order, each by its own rule, all or nothing. The first item
   * refused (an authorization that would be declined included) refuses the batch and changes
   * nothing. Its answer's balance is its last entry's: the last item's account (a transfer's
   * payee).
   */
  private batch(call: ModelCall): { expected: Expected; recorded?: Recorded } {
    const before = new Map(this.accounts);
    const holdsBefore = [...this.holds].map(([holdId, hold]) => [holdId, { ...hold }] as const);
    const items = call.items ?? [];
    for (const [itemIndex, item] of items.entries()) {
      const { expected } = this.apply(item);
      const refused =
        expected.code !== "OK" ? expected.code : expected.approved === false ? "FAILED_PRECONDITION" : null;
      if (refused !== null) {
        this.accounts.clear();
        for (const [key, account] of before) this.accounts.set(key, account);
        for (const [holdId, hold] of holdsBefore) this.holds.set(holdId, hold);
        return { expected: { code: refused, itemIndex } };
      }
    }
    const last = items.at(-1);
    const lastUser = last?.operation === "transfer" ? (last.payeeUserId ?? "") : (last?.userId ?? "");
    // A capture's or void's account is its hold's.
    const lastCurrency = last?.holdId === undefined ? last?.currency : this.holds.get(last.holdId)?.currency;
    const balanceAfter = this.current(lastUser, lastCurrency ?? "").balance;
    const recorded: Recorded = { call, balanceAfter };
    if (call.key !== null) this.keys.set(`${call.userId} ${call.key}`, recorded);
    return { expected: { code: "OK", replayed: false, balanceAfter }, recorded };
  }

  /**
   * A transfer: refused unless the payer's policy allows the debit and the payee's the credit, then a debit of the payer (spent)
   * and a credit of the payee (earned), one entry each. Its answer's balance is the payer's.
   */
  private transfer(call: ModelCall): { expected: Expected; recorded?: Recorded } {
    const payeeUserId = call.payeeUserId ?? "";
    const payer = this.current(call.userId, call.currency);
    const payee = this.current(payeeUserId, call.currency);
    const payerPolicy = this.policyOf(call.userId, call.currency);
    if (payerPolicy.state !== "active") return { expected: { code: "FAILED_PRECONDITION" } };
    if (payer.balance - payer.held - call.amount < -payerPolicy.overdraftLimit) {
      return { expected: { code: "FAILED_PRECONDITION" } };
    }
    if (this.policyOf(payeeUserId, call.currency).state === "closed")
      return { expected: { code: "FAILED_PRECONDITION" } };
    if (payee.balance + call.amount > INT64_MAX) return { expected: { code: "OUT_OF_RANGE" } };
    const payerNext = {
      ...payer,
      balance: payer.balance - call.amount,
      spent: payer.spent + call.amount,
      entryCount: payer.entryCount + 1n,
    };
    const payeeNext = {
      ...payee,
      balance: payee.balance + call.amount,
      earned: payee.earned + call.amount,
      entryCount: payee.entryCount + 1n,
    };
    saturate(payerNext);
    saturate(payeeNext);
    this.accounts.set(`${call.userId} ${call.currency}`, payerNext);
    this.accounts.set(`${payeeUserId} ${call.currency}`, payeeNext);
    const recorded: Recorded = { call, balanceAfter: payerNext.balance };
    if (call.key !== null) this.keys.set(`${call.userId} ${call.key}`, recorded);
    return { expected: { code: "OK", replayed: false, balanceAfter: payerNext.balance }, recorded };
  }
}

/** Items are the same when every item has the same operation, users, currency and amount, in order. */
function sameItems(a: readonly ModelCall[] | undefined, b: readonly ModelCall[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.length === b.length &&
    a.every((item, index) => {
      const other = b[index];
      return (
        other !== undefined &&
        item.operation === other.operation &&
        item.userId === other.userId &&
        item.payeeUserId === other.payeeUserId &&
        item.currency === other.currency &&
        item.amount === other.amount &&
        item.holdId === other.holdId &&
        (item.final ?? false) === (other.final ?? false)
      );
    })
  );
}

function saturate(account: ModelAccount): void {
  for (const field of ["earned", "spent", "loaded", "authorized", "declinedCount", "entryCount"] as const) {
    if (account[field] > INT64_MAX) account[field] = INT64_MAX;
  }
}

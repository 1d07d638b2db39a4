/**
 * The fake vendor's data: a deterministic stream of transactions, transaction `i` a pure
 * function of (seed, i), so any window can be served without storing the stream and two runs
 * with the same seed serve the same bytes. It also knows each user's exact expected totals and
 * the exact text of every bad row it mixes in, so tests can compare the ledger against them.
 */

export interface FakeDataOptions {
  readonly seed: number;
  readonly txPerMinute: number;
  readonly users: number;
  /** createdAt of transaction 0. */
  readonly startMs: number;
  /** No transaction is created at or after this instant; default: the stream never ends. */
  readonly endMs?: number;
  /** Share of rows that are malformed (0 to 1). */
  readonly badRowRate: number;
  /** Share of rows that become visible after their createdAt (0 to 1). */
  readonly lateRate: number;
  /** How late a late row may be. */
  readonly lateMaxMs: number;
  /**
   * Share of rows (0 to 1) that become visible long after their createdAt, far past any
   * lateness bound, so they land in ranges a consumer has already closed: replication lag, a
   * back-dated correction, an outage replayed later. Default 0.
   */
  readonly veryLateRate?: number;
  /** A very late row appears between `veryLateMinMs` and `veryLateMaxMs` after its createdAt. */
  readonly veryLateMinMs?: number;
  readonly veryLateMaxMs?: number;
}

export type FakeType = "earned" | "spent" | "payout" | "paid_out";

export interface FakeTransaction {
  readonly index: number;
  readonly createdAtMs: number;
  /** The row appears in answers only from this instant on. */
  readonly visibleAtMs: number;
  /** The item exactly as served. */
  readonly json: string;
  /** What a correct consumer must apply; null for a bad row. */
  readonly fact: { readonly userId: string; readonly type: FakeType; readonly minor: bigint } | null;
}

/** mulberry32, seeded per transaction so that any index can be generated on its own. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFor(seed: number, index: number, stream: number): () => number {
  return prng(
    Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ Math.imul(stream, 0x27d4eb2f),
  );
}

const hex = (random: () => number, length: number): string =>
  Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join("");

/** The JSON text of an amount of `minor` cents, in one of the spellings the vendor uses. */
export function amountText(minor: number, variant: number): string {
  const whole = Math.floor(minor / 100);
  const cents = minor % 100;
  switch (variant) {
    case 0: // shortest: 12, 1.2, 19.99, 0.1
      return cents === 0 ? `${whole}` : `${whole}.${String(cents).padStart(2, "0").replace(/0$/, "")}`;
    case 1: // two decimals: 1.20
      return `${whole}.${String(cents).padStart(2, "0")}`;
    default: // exponent: 120e-2
      return `${minor}e-2`;
  }
}

const BAD_ROWS: readonly ((base: Record<string, string>) => string)[] = [
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"refund","amount":5}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned","amount":1.005}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned","amount":"12.50"}`,
  (b) => `{"id":${b.id},"userId":74092,"createdAt":${b.createdAt},"type":"spent","amount":2}`,
  (b) => `{"id":${b.id},"userId":"bad user","createdAt":${b.createdAt},"type":"spent","amount":2}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned"}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned","amount":0}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"payout","amount":-5}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned","amount":1e30}`,
  (b) => `{"id":${b.id},"userId":${b.userId},"createdAt":"yesterday","type":"earned","amount":3}`,
  (b) => `{"userId":${b.userId},"createdAt":${b.createdAt},"type":"earned","amount":3,"note":${b.id}}`,
];

export class FakeData {
  private readonly cache = new Map<number, FakeTransaction>();

  constructor(readonly options: FakeDataOptions) {}

  /** The first index whose createdAt is at or after `ms`. */
  indexAt(ms: number): number {
    const { startMs, txPerMinute, endMs } = this.options;
    const bounded = endMs === undefined ? ms : Math.min(ms, endMs);
    if (bounded <= startMs) return 0;
    return Math.ceil(((bounded - startMs) * txPerMinute) / 60_000);
  }

  get(index: number): FakeTransaction {
    let transaction = this.cache.get(index);
    if (transaction === undefined) {
      transaction = this.generate(index);
      this.cache.set(index, transaction);
    }
    return transaction;
  }

  /** Rows with createdAt in [startMs, endMs) that are visible at `nowMs`, in createdAt order. */
  query(startMs: number, endMs: number, nowMs: number): FakeTransaction[] {
    const rows: FakeTransaction[] = [];
    const last = this.indexAt(Math.min(endMs, nowMs + 1));
    for (let index = this.indexAt(startMs); index < last; index += 1) {
      const row = this.get(index);
      if (row.visibleAtMs <= nowMs) rows.push(row);
    }
    // Late rows sort among their peers by createdAt, so their arrival shifts later offsets.
    return rows;
  }

  /**
   * The extra delay of a very late row, 0 for the others. It has its own random stream, so
   * turning the fault on changes no other property of the stream for the same seed.
   */
  private veryLateDelayMs(index: number): number {
    const { veryLateRate = 0, veryLateMinMs = 0, veryLateMaxMs = veryLateMinMs } = this.options;
    if (veryLateRate <= 0) return 0;
    const random = randomFor(this.options.seed, index, 3);
    if (random() >= veryLateRate) return 0;
    return veryLateMinMs + Math.floor(random() * Math.max(0, veryLateMaxMs - veryLateMinMs));
  }

  private generate(index: number): FakeTransaction {
    const { seed, users, startMs, txPerMinute } = this.options;
    const random = randomFor(seed, index, 1);
    const createdAtMs = startMs + Math.floor((index * 60_000) / txPerMinute);
    const late = random() < this.options.lateRate;
    const visibleAtMs = late
      ? createdAtMs + 1 + Math.floor(random() * this.options.lateMaxMs)
      : createdAtMs + this.veryLateDelayMs(index);
    const userId = String(1 + Math.floor(random() * users)).padStart(6, "0");
    const roll = random();
    const type: FakeType = roll < 0.5 ? "earned" : roll < 0.75 ? "spent" : roll < 0.9 ? "payout" : "paid_out";
    const spelledType = type === "paid_out" && random() < 0.5 ? "paid out" : type;
    const minor = 1 + Math.floor(random() * 5000);
    // The last 8 hex digits are the index: ids drawn from the per-row generator alone collided
    // (sequences of nearby seeds overlap), two in 1.4 million rows, and a vendor whose ids are
    // unique is what the ledger's conflict rule assumes. The same draws are made as before.
    const id =
      random() < 0.8
        ? `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12).slice(0, 4)}${index.toString(16).padStart(8, "0")}`
        : `tx-${seed}-${index}`;
    const base = {
      id: JSON.stringify(id),
      userId: JSON.stringify(userId),
      createdAt: JSON.stringify(new Date(createdAtMs).toISOString()),
    };
    if (random() < this.options.badRowRate) {
      const make = BAD_ROWS[Math.floor(random() * BAD_ROWS.length)] ?? BAD_ROWS[0];
      return { index, createdAtMs, visibleAtMs, json: make!(base), fact: null };
    }
    const amount = amountText(minor, Math.floor(random() * 3));
    const json = `{"id":${base.id},"userId":${base.userId},"createdAt":${base.createdAt},"type":${JSON.stringify(spelledType)},"amount":${amount}}`;
    return { index, createdAtMs, visibleAtMs, json, fact: { userId, type, minor: BigInt(minor) } };
  }
}

export interface UserTotals {
  earned: bigint;
  spent: bigint;
  payout: bigint;
  paidOut: bigint;
  balance: bigint;
}

/** Each user's totals over every row created before `untilMs` and visible at `nowMs`. */
export function expectedTotals(data: FakeData, untilMs: number, nowMs: number) {
  const users = new Map<string, UserTotals>();
  const badRows: string[] = [];
  let validCount = 0;
  const last = data.indexAt(Math.min(untilMs, nowMs + 1));
  for (let index = 0; index < last; index += 1) {
    const row = data.get(index);
    if (row.visibleAtMs > nowMs) continue;
    if (row.fact === null) {
      badRows.push(row.json);
      continue;
    }
    validCount += 1;
    const { userId, type, minor } = row.fact;
    let totals = users.get(userId);
    if (totals === undefined) {
      totals = { earned: 0n, spent: 0n, payout: 0n, paidOut: 0n, balance: 0n };
      users.set(userId, totals);
    }
    if (type === "earned") {
      totals.earned += minor;
      totals.balance += minor;
    }
    if (type === "spent") {
      totals.spent += minor;
      totals.balance -= minor;
    }
    if (type === "payout") totals.payout += minor;
    if (type === "paid_out") {
      totals.paidOut += minor;
      totals.balance -= minor;
    }
  }
  return { users, badRows, validCount };
}

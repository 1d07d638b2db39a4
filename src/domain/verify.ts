/**
 * The audit behind `npm run verify`: every account's cached position must equal the fold of its
 * entries, and every entry must be consistent with the ones before it. The legs of a group must
 * start at the group's id and have been recorded together; a transfer's must share one currency
 * and move no money in total, and a batch's must number what was stored with it.
 */
import type { Account, AccountState, Entry } from "../store/store.js";
import { applyEntry, balanceDelta, diffAccounts } from "./account.js";
import { INT64_MAX } from "./money.js";

export interface Mismatch {
  readonly userId: string;
  readonly currency: string;
  readonly problem: string;
}

export interface VerifyReport {
  readonly entriesChecked: number;
  readonly accountsChecked: number;
  readonly mismatches: Mismatch[];
}

/** Mismatches are capped so that a badly broken ledger still yields a readable report. */
const MISMATCHES_MAX = 1000;

/**
 * `batches` maps the group id of every batch (ApplyBatch) to its stored leg count; any other
 * group is held to a transfer's rule.
 */
export function verifyLedger(
  entries: Iterable<Entry>,
  accounts: Iterable<Account>,
  batches: ReadonlyMap<bigint, bigint> = new Map(),
): VerifyReport {
  const folded = new Map<string, AccountState>();
  const mismatches: Mismatch[] = [];
  const report = (userId: string, currency: string, problem: string) => {
    if (mismatches.length < MISMATCHES_MAX) mismatches.push({ userId, currency, problem });
  };
  let entriesChecked = 0;
  const groups = new GroupChecker(report, batches);
  const holds = new HoldChecker(report);
  for (const entry of entries) {
    entriesChecked += 1;
    groups.check(entry);
    holds.check(entry);
    const key = JSON.stringify([entry.userId, entry.currency]);
    const expectedDelta = entry.status === "declined" ? 0n : balanceDelta(entry.kind, entry.amount);
    if (entry.delta !== expectedDelta) {
      report(entry.userId, entry.currency, `entry ${entry.id}: delta ${entry.delta}, expected ${expectedDelta}`);
    }
    const next = applyEntry(folded.get(key), entry, entry.createdAtMs);
    if (next === undefined) {
      report(entry.userId, entry.currency, `entry ${entry.id}: totals overflow int64`);
      continue;
    }
    if (next.balance !== entry.balanceAfter) {
      report(
        entry.userId,
        entry.currency,
        `entry ${entry.id}: balance_after ${entry.balanceAfter}, expected ${next.balance}`,
      );
    }
    if ((entry.heldAfter ?? 0n) !== next.held) {
      report(
        entry.userId,
        entry.currency,
        `entry ${entry.id}: held_after ${entry.heldAfter ?? 0n}, expected ${next.held}`,
      );
    }
    folded.set(key, next);
  }
  groups.close();
  let accountsChecked = 0;
  for (const account of accounts) {
    accountsChecked += 1;
    const key = JSON.stringify([account.userId, account.currency]);
    const expected = folded.get(key);
    folded.delete(key);
    if (expected === undefined) {
      report(account.userId, account.currency, "account has no entries");
      continue;
    }
    for (const field of diffAccounts(expected, account)) {
      report(account.userId, account.currency, `${field} is ${account[field]}, entries sum to ${expected[field]}`);
    }
    if (account.held < 0n) report(account.userId, account.currency, `held is ${account.held}, below zero`);
    // A saturated total reads "at least", so the identity holds only while none has saturated.
    const saturated = [account.earned, account.spent, account.paidOut].includes(INT64_MAX);
    if (!saturated && account.balance !== account.earned - account.spent - account.paidOut) {
      report(account.userId, account.currency, "balance differs from earned - spent - paid_out");
    }
  }
  for (const key of folded.keys()) {
    const [userId = "", currency = ""] = JSON.parse(key) as string[];
    report(userId, currency, "entries exist but the account does not");
  }
  return { entriesChecked, accountsChecked, mismatches };
}

/**
 * Checks groups as the entries stream by, in id order. A group is appended in one transaction,
 * so its first leg has the group's id and every leg carries the time that transaction read; its
 * legs need not be consecutive (PostgreSQL hands sequence values to concurrent transactions
 * interleaved). A transfer's group moves no money: it stays open until its legs, in one
 * currency, sum to zero, and groups still open at the end are findings. A batch's group may
 * load, debit and mix currencies, so it is checked against the leg count stored with it
 * instead. Memory holds the open groups, the batches' counts and the times of groups seen.
 */
class GroupChecker {
  private readonly open = new Map<bigint, { readonly first: Entry; sum: bigint }>();
  /** The recording time of every group seen, by group id. */
  private readonly recordedAtMs = new Map<bigint, number>();
  private readonly batchLegs = new Map<bigint, { readonly first: Entry; legs: bigint }>();

  constructor(
    private readonly report: (userId: string, currency: string, problem: string) => void,
    private readonly batches: ReadonlyMap<bigint, bigint>,
  ) {}

  check(entry: Entry): void {
    const { groupId } = entry;
    if (groupId === undefined) return;
    const atMs = this.recordedAtMs.get(groupId);
    if (atMs === undefined) {
      // The group's id is its first leg's: a group first met at another leg lost that one.
      if (groupId !== entry.id) {
        this.report(entry.userId, entry.currency, `entry ${entry.id}: its group ${groupId} has no leg ${groupId}`);
      }
      this.recordedAtMs.set(groupId, entry.createdAtMs);
    } else if (entry.createdAtMs !== atMs) {
      this.report(
        entry.userId,
        entry.currency,
        `entry ${entry.id}: recorded at ${entry.createdAtMs}, apart from its group ${groupId} (${atMs})`,
      );
    }
    if (this.batches.has(groupId)) {
      const batch = this.batchLegs.get(groupId);
      if (batch === undefined) this.batchLegs.set(groupId, { first: entry, legs: 1n });
      else batch.legs += 1n;
      return;
    }
    const group = this.open.get(groupId);
    if (group === undefined) {
      if (atMs === undefined) this.open.set(groupId, { first: entry, sum: entry.delta });
      else this.report(entry.userId, entry.currency, `entry ${entry.id}: its group ${groupId} had already closed`);
      return;
    }
    if (entry.currency !== group.first.currency) {
      this.report(entry.userId, entry.currency, `entry ${entry.id}: its group ${groupId} mixes currencies`);
    }
    group.sum += entry.delta;
    if (group.sum === 0n) this.open.delete(groupId);
  }

  close(): void {
    for (const [groupId, group] of this.open) {
      this.report(group.first.userId, group.first.currency, `group ${groupId}: its legs sum to ${group.sum}`);
    }
    for (const [groupId, legCount] of this.batches) {
      const found = this.batchLegs.get(groupId);
      if (found?.legs === legCount) continue;
      this.report(
        found?.first.userId ?? "",
        found?.first.currency ?? "",
        `batch ${groupId}: ${found?.legs ?? 0n} legs found, ${legCount} recorded`,
      );
    }
  }
}

/**
 * Checks each hold's entries as they stream by: a hold's id is the id of the `hold` entry that
 * placed it, its later entries name it and its account, it never releases more than it reserved,
 * and nothing follows its void or expiry. Memory holds one small record per hold.
 */
class HoldChecker {
  private readonly holds = new Map<bigint, { readonly first: Entry; reserved: bigint; closed: boolean }>();

  constructor(private readonly report: (userId: string, currency: string, problem: string) => void) {}

  check(entry: Entry): void {
    const { holdId } = entry;
    if (entry.kind === "hold") {
      if (entry.status === "declined") return;
      if (holdId !== entry.id)
        this.report(entry.userId, entry.currency, `entry ${entry.id}: a hold whose id is ${holdId}`);
      this.holds.set(entry.id, { first: entry, reserved: entry.heldDelta ?? 0n, closed: false });
      return;
    }
    if (holdId === undefined) return;
    const hold = this.holds.get(holdId);
    if (hold === undefined || hold.first.userId !== entry.userId || hold.first.currency !== entry.currency) {
      this.report(entry.userId, entry.currency, `entry ${entry.id}: its hold ${holdId} is not this account's hold`);
      return;
    }
    if (hold.closed)
      this.report(entry.userId, entry.currency, `entry ${entry.id}: hold ${holdId} was already released`);
    hold.reserved += entry.heldDelta ?? 0n;
    if (hold.reserved < 0n) {
      this.report(entry.userId, entry.currency, `entry ${entry.id}: hold ${holdId} released more than it reserved`);
    }
    if (entry.kind === "hold_void" || entry.kind === "hold_expire") hold.closed = true;
  }
}

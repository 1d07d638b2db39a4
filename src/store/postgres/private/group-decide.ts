/**
 * A group mutation inside a PostgreSQL batch transaction: decided in JavaScript against the
 * states read under the users' locks, like single mutations, its legs appended together or not
 * at all. Its keyed replay returns every leg, found by the group id stored on each.
 */
import type pg from "pg";
import { toEntry, type EntryRow } from "../../rows.js";
import { assertGroupLegs } from "../../group-legs.js";
import type { AccountPolicy, AccountState, Entry, GroupMutation, GroupResult, Hold } from "../../store.js";
import { accountKeyOf, policyOf, type PendingEntry } from "./writes.js";

export type AnyGroup = GroupMutation<string>;

/** A group's outcome before ids are known. */
export type GroupDecided =
  | { readonly type: "group_applied"; readonly legs: PendingEntry[]; readonly before: (AccountState | undefined)[] }
  | { readonly type: "group_existing"; readonly first: Entry | PendingEntry }
  | {
      readonly type: "group_rejected";
      readonly reason: string;
      readonly current: (AccountState | undefined)[];
      readonly policies: AccountPolicy[];
      readonly holds: (Hold | undefined)[];
      readonly nowMs: number;
    };

export function decideGroup(
  mutation: AnyGroup,
  nowMs: number,
  states: Map<string, AccountState | undefined>,
  keyed: Map<string, Entry | PendingEntry>,
  pending: PendingEntry[],
  policyMap: ReadonlyMap<string, AccountPolicy>,
  holdMap: Map<bigint, Hold>,
): GroupDecided {
  const idempotency =
    mutation.idempotency === null ? undefined : accountKeyOf(mutation.idempotency.userId, mutation.idempotency.key);
  if (idempotency !== undefined) {
    const existing = keyed.get(idempotency);
    if (existing !== undefined) return { type: "group_existing", first: existing };
  }
  const before = mutation.accounts.map((account) => states.get(accountKeyOf(account.userId, account.currency)));
  const policies = mutation.accounts.map((account) => policyOf(policyMap, account));
  const holds = (mutation.holdIds ?? []).map((holdId) => holdMap.get(holdId));
  const verdict = mutation.decide(before, nowMs, policies, holds);
  if (verdict.type === "reject") {
    return { type: "group_rejected", reason: verdict.reason, current: before, policies, holds, nowMs };
  }
  assertGroupLegs(mutation, verdict.legs, before);
  const legs: PendingEntry[] = [];
  let first: PendingEntry | undefined;
  verdict.legs.forEach((leg, index) => {
    const item: PendingEntry = {
      key: leg.account,
      draft: leg.entry,
      next: leg.next,
      meta: {
        idempotencyKey: index === 0 ? (mutation.idempotency?.key ?? null) : null,
        externalId: null,
        occurredAtMs: nowMs,
        createdAtMs: nowMs,
      },
      ...(first === undefined ? {} : { groupFirst: first }),
      ...(leg.hold === undefined ? {} : { hold: leg.hold }),
    };
    if (first === undefined) {
      first = item;
      Object.assign(item, { groupFirst: item });
    }
    legs.push(item);
  });
  if (first !== undefined) {
    first.groupLegs = legs;
    if (mutation.batchDigest !== undefined) first.batchDigest = mutation.batchDigest;
  }
  pending.push(...legs);
  for (const leg of legs) states.set(accountKeyOf(leg.key.userId, leg.key.currency), leg.next);
  // A later mutation of this transaction on one of these holds decides on this group's result.
  for (const leg of verdict.legs) {
    const held = leg.hold?.holdId === null || leg.hold === undefined ? undefined : holdMap.get(leg.hold.holdId);
    if (held !== undefined && leg.hold !== undefined) holdMap.set(held.holdId, { ...held, ...leg.hold.state });
  }
  if (idempotency !== undefined && first !== undefined) keyed.set(idempotency, first);
  return { type: "group_applied", legs, before };
}

/** The stored groups that keyed entries belong to: every leg, and the digests of batches. */
export interface StoredGroups {
  readonly legs: Map<bigint, Entry[]>;
  readonly batchDigests: Map<bigint, string>;
}

/** Every leg of the stored groups that the keyed entries belong to, and their batch digests. */
export async function readGroups(
  client: pg.PoolClient,
  keyed: Iterable<Entry | PendingEntry>,
  groupIds: ReadonlyMap<Entry, bigint>,
): Promise<StoredGroups> {
  const groups = new Map<bigint, Entry[]>();
  const batchDigests = new Map<bigint, string>();
  const wanted = [...keyed].flatMap((value) => {
    const groupId = "id" in value ? groupIds.get(value) : undefined;
    return groupId === undefined ? [] : [groupId];
  });
  if (wanted.length === 0) return { legs: groups, batchDigests };
  const result = await client.query<EntryRow>("SELECT * FROM entries WHERE group_id = ANY($1::bigint[]) ORDER BY id", [
    wanted,
  ]);
  for (const row of result.rows) {
    const groupId = row.group_id;
    if (groupId === null || groupId === undefined) continue;
    const legs = groups.get(groupId) ?? [];
    legs.push(toEntry(row));
    groups.set(groupId, legs);
  }
  const batches = await client.query<{ group_id: bigint; digest: string }>(
    "SELECT group_id, digest FROM entry_batches WHERE group_id = ANY($1::bigint[])",
    [wanted],
  );
  for (const row of batches.rows) batchDigests.set(row.group_id, row.digest);
  return { legs: groups, batchDigests };
}

/** Records the batches among the groups this transaction applied, once their entries have ids. */
export async function insertBatches(
  client: pg.PoolClient,
  decided: readonly { readonly type: string }[],
): Promise<void> {
  const rows = decided.flatMap((outcome) => {
    if (outcome.type !== "group_applied") return [];
    const { legs } = outcome as Extract<GroupDecided, { type: "group_applied" }>;
    const first = legs[0];
    if (first?.batchDigest === undefined) return [];
    return [{ groupId: entryOf(first).id, digest: first.batchDigest, legCount: legs.length }];
  });
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO entry_batches (group_id, digest, leg_count)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])`,
    [rows.map((row) => row.groupId), rows.map((row) => row.digest), rows.map((row) => row.legCount)],
  );
}

function entryOf(value: Entry | PendingEntry): Entry {
  if ("id" in value) return value;
  if (value.entry === undefined) throw new Error("a pending entry was not appended");
  return value.entry;
}

/** The caller's answer once the batch's entries have their ids. */
export function settleGroup(
  outcome: GroupDecided,
  groupIds: ReadonlyMap<Entry, bigint>,
  groups: StoredGroups,
): GroupResult<string> {
  switch (outcome.type) {
    case "group_applied": {
      const entries = outcome.legs.map(entryOf);
      const groupId = entries[0]?.id;
      if (groupId === undefined) throw new Error("a group was applied without legs");
      return { type: "applied", groupId, entries, before: outcome.before };
    }
    case "group_existing": {
      const { first } = outcome;
      if (!("id" in first)) {
        // Keyed earlier in this same batch.
        const legs = first.groupLegs;
        if (legs === undefined) return { type: "existing", groupId: null, entries: [entryOf(first)] };
        const entries = legs.map(entryOf);
        const digest = first.batchDigest;
        return {
          type: "existing",
          groupId: entries[0]?.id ?? null,
          entries,
          ...(digest === undefined ? {} : { batchDigest: digest }),
        };
      }
      const groupId = groupIds.get(first);
      const legs = groupId === undefined ? undefined : groups.legs.get(groupId);
      if (legs === undefined || groupId === undefined) return { type: "existing", groupId: null, entries: [first] };
      const digest = groups.batchDigests.get(groupId);
      return { type: "existing", groupId, entries: legs, ...(digest === undefined ? {} : { batchDigest: digest }) };
    }
    case "group_rejected":
      return {
        type: "rejected",
        reason: outcome.reason,
        current: outcome.current,
        policies: outcome.policies,
        holds: outcome.holds,
        nowMs: outcome.nowMs,
      };
  }
}

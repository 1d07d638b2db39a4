/**
 * The statements every PostgreSQL write shares: lock the users a transaction touches, read their
 * accounts, and append a batch of entries with their accounts' new state in two statements.
 *
 * Users are locked in one sorted order by every transaction (mutations and vendor pages), so
 * two batches can wait on each other but never deadlock; a deadlock that happens anyway (another
 * client of the database) is retried by `inTransaction`. The lock is a row in `ledger_users`
 * taken with SELECT ... FOR UPDATE, not an advisory lock: row locks exist in the distributed
 * engines that speak PostgreSQL's protocol, where advisory locks are missing or no-ops.
 */
import type pg from "pg";
import { entryHoldFields, toAccount, toPolicyRow, type AccountRow, type PolicyRow } from "../../rows.js";
import { DEFAULT_POLICY } from "../../store.js";
import type { AccountKey, AccountPolicy, AccountState, Entry, EntryDraft, HoldState } from "../../store.js";

export const ACCOUNT_COLUMNS = `user_id, currency, balance, earned, spent, payout_requested, paid_out, loaded,
  authorized, declined_count, entry_count, held, created_at_ms, updated_at_ms`;

/** Holds every user in `userIds` until the transaction ends; creates their lock rows if new. */
export async function lockUsers(client: pg.PoolClient, userIds: Iterable<string>): Promise<string[]> {
  const users = [...new Set(userIds)].sort();
  if (users.length === 0) return users;
  await client.query(
    "INSERT INTO ledger_users (user_id) SELECT u FROM unnest($1::text[]) AS u ORDER BY u ON CONFLICT DO NOTHING",
    [users],
  );
  await client.query("SELECT user_id FROM ledger_users WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE", [
    users,
  ]);
  return users;
}

export const accountKeyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;

/** The accounts of the locked users, by `accountKeyOf`. */
export async function readAccounts(
  client: pg.PoolClient,
  users: readonly string[],
): Promise<Map<string, AccountState | undefined>> {
  const states = new Map<string, AccountState | undefined>();
  if (users.length === 0) return states;
  const result = await client.query<AccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = ANY($1::text[])`,
    [users],
  );
  for (const row of result.rows) states.set(accountKeyOf(row.user_id, row.currency), toAccount(row));
  return states;
}

/** The policies set for the locked users' accounts, by `accountKeyOf`; `policyOf` fills the gaps. */
export async function readPolicies(
  client: pg.PoolClient,
  users: readonly string[],
): Promise<Map<string, AccountPolicy>> {
  const policies = new Map<string, AccountPolicy>();
  if (users.length === 0) return policies;
  const result = await client.query<PolicyRow>("SELECT * FROM account_policies WHERE user_id = ANY($1::text[])", [
    users,
  ]);
  for (const row of result.rows) policies.set(accountKeyOf(row.user_id, row.currency), toPolicyRow(row));
  return policies;
}

export function policyOf(policies: ReadonlyMap<string, AccountPolicy>, key: AccountKey): AccountPolicy {
  const policy = policies.get(accountKeyOf(key.userId, key.currency));
  return policy === undefined ? DEFAULT_POLICY : { overdraftLimit: policy.overdraftLimit, state: policy.state };
}

/** An entry decided in this transaction, waiting for its id. */
export interface PendingEntry {
  readonly key: AccountKey;
  readonly draft: EntryDraft;
  readonly next: AccountState;
  readonly meta: Pick<Entry, "idempotencyKey" | "externalId" | "occurredAtMs" | "createdAtMs">;
  /** For the legs of a group mutation: its first leg, whose id every leg stores as group_id. */
  readonly groupFirst?: PendingEntry;
  /** On a group's first leg: every leg of the group, in order. */
  groupLegs?: readonly PendingEntry[];
  /** The hold the entry places (`holdId` null: its id will be the entry's) or changes. */
  readonly hold?: { readonly holdId: bigint | null; readonly state: HoldState };
  /** On a batch's first leg: the digest of its items, stored with the group. */
  batchDigest?: string;
  entry?: Entry;
}

/**
 * Appends the entries in order and stores each touched account's final state. Ids are drawn
 * from the sequence first and handed out in order, so each pending entry learns its id without
 * trusting the order of RETURNING rows.
 */
export async function appendEntries(client: pg.PoolClient, pending: readonly PendingEntry[]): Promise<void> {
  if (pending.length === 0) return;
  // The live stream's horizon (stream-horizon.ts) relies on this transaction having its id before
  // it draws entry ids. Its users' row locks already gave it one; the CTE, scanned before any row
  // of the join is projected, makes sure of it for any future caller.
  const idRows = await client.query<{ id: bigint }>(
    `WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
     SELECT nextval('entries_id_seq') AS id FROM tx, generate_series(1, $1::int)`,
    [pending.length],
  );
  const ids = idRows.rows.map((row) => row.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const columns: unknown[][] = Array.from({ length: 16 }, () => []);
  pending.forEach((item, index) => {
    const id = ids[index];
    if (id === undefined) throw new Error("the sequence answered fewer ids than asked");
    // A group's first leg precedes its other legs in `pending`, so its id is known by now.
    const groupId = item.groupFirst === undefined ? null : item.groupFirst === item ? id : item.groupFirst.entry?.id;
    if (groupId === undefined) throw new Error("a group leg was appended before its first leg");
    const holdId = item.hold === undefined ? null : (item.hold.holdId ?? id);
    const entry: Entry = {
      id,
      ...item.key,
      ...item.draft,
      balanceAfter: item.next.balance,
      ...item.meta,
      ...entryHoldFields(item.draft.kind, holdId, item.draft.heldDelta ?? 0n, item.next.held),
    };
    item.entry = groupId === null ? entry : { ...entry, groupId };
    const values = [
      id,
      item.key.userId,
      item.key.currency,
      item.draft.kind,
      item.draft.status,
      item.draft.amount,
      item.draft.delta,
      item.next.balance,
      item.meta.idempotencyKey,
      item.meta.externalId,
      item.meta.occurredAtMs,
      item.meta.createdAtMs,
      groupId,
      holdId,
      item.draft.heldDelta ?? 0n,
      item.next.held,
    ];
    values.forEach((value, column) => columns[column]?.push(value));
  });
  await client.query(
    `
    INSERT INTO entries (id, user_id, currency, kind, status, amount, delta, balance_after,
      idempotency_key, external_id, occurred_at_ms, created_at_ms, group_id, hold_id, held_delta, held_after)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
      $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[],
      $14::bigint[], $15::bigint[], $16::bigint[])`,
    columns,
  );
  await upsertAccounts(client, pending);
}

async function upsertAccounts(client: pg.PoolClient, pending: readonly PendingEntry[]): Promise<void> {
  // Only each account's last state in the batch is stored.
  const finals = new Map<string, PendingEntry>();
  for (const item of pending) finals.set(accountKeyOf(item.key.userId, item.key.currency), item);
  const columns: unknown[][] = Array.from({ length: 14 }, () => []);
  for (const { key, next } of finals.values()) {
    const values = [
      key.userId,
      key.currency,
      next.balance,
      next.earned,
      next.spent,
      next.payoutRequested,
      next.paidOut,
      next.loaded,
      next.authorized,
      next.declinedCount,
      next.entryCount,
      next.held,
      next.createdAtMs,
      next.updatedAtMs,
    ];
    values.forEach((value, column) => columns[column]?.push(value));
  }
  await client.query(
    `
    INSERT INTO accounts (${ACCOUNT_COLUMNS})
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
      $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
      $14::bigint[])
    ON CONFLICT (user_id, currency) DO UPDATE SET
      balance = excluded.balance, earned = excluded.earned, spent = excluded.spent,
      payout_requested = excluded.payout_requested, paid_out = excluded.paid_out,
      loaded = excluded.loaded, authorized = excluded.authorized,
      declined_count = excluded.declined_count, entry_count = excluded.entry_count,
      held = excluded.held, updated_at_ms = excluded.updated_at_ms`,
    columns,
  );
}

/**
 * The holds a PostgreSQL batch reads and writes. A hold is read under its user's lock (the batch
 * has locked every user it names before this runs), so two batches, even in two processes, see
 * one hold's changes one after the other: of two sweepers the second reads it released and its
 * expiry is a no-op refusal.
 */
import type pg from "pg";
import { toHold, type HoldRow } from "../../rows.js";
import type { Hold } from "../../store.js";
import type { PendingEntry } from "./writes.js";

/** The holds with these ids, by id. */
export async function readHolds(client: pg.PoolClient, holdIds: readonly bigint[]): Promise<Map<bigint, Hold>> {
  const holds = new Map<bigint, Hold>();
  if (holdIds.length === 0) return holds;
  const result = await client.query<HoldRow>("SELECT * FROM holds WHERE hold_id = ANY($1::bigint[])", [
    [...new Set(holdIds)].map(String),
  ]);
  for (const row of result.rows) holds.set(BigInt(row.hold_id), toHold(row));
  return holds;
}

/**
 * Inserts the holds this batch placed and stores the final state of those it changed, once the
 * entries have their ids (a new hold's id is its entry's).
 */
export async function writeHolds(client: pg.PoolClient, pending: readonly PendingEntry[]): Promise<void> {
  const inserted: unknown[][] = Array.from({ length: 9 }, () => []);
  const updated = new Map<bigint, PendingEntry>();
  for (const item of pending) {
    if (item.hold === undefined) continue;
    if (item.hold.holdId !== null) {
      updated.set(item.hold.holdId, item);
      continue;
    }
    const id = item.entry?.id;
    if (id === undefined) throw new Error("a hold was written before its entry had an id");
    const { state } = item.hold;
    const values = [
      id,
      item.key.userId,
      item.key.currency,
      state.amount,
      state.captured,
      state.status,
      state.expiresAtMs,
      item.meta.createdAtMs,
      item.meta.createdAtMs,
    ];
    values.forEach((value, column) => inserted[column]?.push(value));
  }
  if ((inserted[0]?.length ?? 0) > 0) {
    await client.query(
      `
      INSERT INTO holds (hold_id, user_id, currency, amount, captured, status, expires_at_ms, created_at_ms, updated_at_ms)
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
        $7::bigint[], $8::bigint[], $9::bigint[])`,
      inserted,
    );
  }
  if (updated.size === 0) return;
  const columns: unknown[][] = Array.from({ length: 4 }, () => []);
  for (const [holdId, item] of updated) {
    const state = item.hold?.state;
    if (state === undefined) continue;
    [holdId, state.captured, state.status, item.meta.createdAtMs].forEach((value, column) =>
      columns[column]?.push(value),
    );
  }
  const result = await client.query(
    `
    UPDATE holds SET captured = u.captured, status = u.status, updated_at_ms = u.updated_at_ms
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS u(hold_id, captured, status, updated_at_ms)
    WHERE holds.hold_id = u.hold_id`,
    columns,
  );
  if (result.rowCount !== updated.size) throw new Error("a hold update missed its row");
}

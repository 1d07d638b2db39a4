/**
 * The entries of one write batch, inserted many rows to a statement.
 *
 * Once the account reads and writes were cut to one per account per batch, the entry INSERT was
 * the store's largest cost on a hot account, and about half of it was per statement (binding,
 * stepping and resetting one statement per row): 100 rows take about 7 µs each one at a time
 * and about 3.6 µs in one multi-row INSERT (bench/README.md). So in a batch run without
 * savepoints each entry takes its id at once (the single writer holds SQLite's write lock, so
 * AUTOINCREMENT would hand out exactly `seq + 1`, `seq + 2`, ...; the ids are written explicitly
 * and any clash fails the INSERT, which sends the batch down the safe path) and the rows are
 * inserted before COMMIT, or earlier when a read of the entries table needs them.
 */
import type { Statement } from "better-sqlite3";
import { assert } from "../../../assert.js";

/** The columns an append writes, in the order of `EntryValues`; the id is AUTOINCREMENT's or `add`'s. */
export const ENTRY_VALUE_COLUMNS = `user_id, currency, kind, status, amount, delta, balance_after,
  idempotency_key, external_id, occurred_at_ms, created_at_ms, group_id, hold_id, held_delta, held_after`;
/** The id and the value columns. */
const COLUMN_COUNT = 16;

/** The INSERT of `rows` entries with explicit ids. */
export function insertEntriesSql(rows: number): string {
  const row = `(${new Array<string>(COLUMN_COUNT).fill("?").join(", ")})`;
  return `INSERT INTO entries (id, ${ENTRY_VALUE_COLUMNS}) VALUES ${new Array<string>(rows).fill(row).join(", ")}`;
}

/** Most rows in one INSERT: 1,024 bound values, well under SQLite's variable limit. */
export const ENTRY_ROWS_PER_INSERT_MAX = 64;

/** An entry's values, in `ENTRY_VALUE_COLUMNS` order. */
export type EntryValues = readonly unknown[];

export class BatchEntries {
  private values: unknown[] = [];
  private pendingRows = 0;
  private nextId: bigint | undefined;
  /** `userId \0 key` of every pending entry with an idempotency key. */
  private readonly pendingKeys = new Set<string>();

  /**
   * @param insertRows the prepared INSERT of exactly `rows` rows (the store caches them).
   * @param newestId the highest entry id handed out so far (sqlite_sequence), read on first use.
   */
  constructor(
    private readonly insertRows: (rows: number) => Statement,
    private readonly newestId: () => bigint,
  ) {}

  /** The id the next added entry will take. */
  peekId(): bigint {
    this.nextId ??= this.newestId() + 1n;
    return this.nextId;
  }

  /** Queues one entry; answers its id. */
  add(values: EntryValues, userId: string, idempotencyKey: string | null): bigint {
    assert(values.length === COLUMN_COUNT - 1, "an entry row has a value for every column");
    const id = this.peekId();
    this.nextId = id + 1n;
    this.values.push(id, ...values);
    this.pendingRows += 1;
    if (idempotencyKey !== null) this.pendingKeys.add(`${userId}\u0000${idempotencyKey}`);
    return id;
  }

  /** How many queued entries from `offset` on belong to the account of the one at `offset` (bounded). */
  private runLength(offset: number): number {
    // Each row is [id, user_id, currency, ...].
    const userId = this.values[offset * COLUMN_COUNT + 1];
    const currency = this.values[offset * COLUMN_COUNT + 2];
    let rows = 1;
    while (rows < ENTRY_ROWS_PER_INSERT_MAX && offset + rows < this.pendingRows) {
      const at = (offset + rows) * COLUMN_COUNT;
      if (this.values[at + 1] !== userId || this.values[at + 2] !== currency) break;
      rows += 1;
    }
    return rows;
  }

  /** Whether an entry with this key waits to be inserted (a lookup must `flush` first). */
  hasPendingKey(userId: string, idempotencyKey: string): boolean {
    return this.pendingKeys.has(`${userId}\u0000${idempotencyKey}`);
  }

  /**
   * Inserts every queued entry: a run of consecutive entries of one account goes in multi-row
   * INSERTs of up to `ENTRY_ROWS_PER_INSERT_MAX` rows, any other entry alone. One account's
   * entries land side by side in every index of `entries`, where a multi-row INSERT saves the
   * per-statement cost; entries of different accounts land on different index pages, where a
   * multi-row INSERT was slower than one statement a row (25 against 15 µs a row for 100
   * accounts, bench/README.md).
   */
  flush(): void {
    let offset = 0;
    while (offset < this.pendingRows) {
      const rows = this.runLength(offset);
      const slice = this.values.slice(offset * COLUMN_COUNT, (offset + rows) * COLUMN_COUNT);
      const info = this.insertRows(rows).run(slice);
      assert(info.changes === rows, "a multi-row insert inserts every one of its entries");
      offset += rows;
    }
    if (this.pendingRows > 0) {
      assert(this.newestId() === (this.nextId ?? 0n) - 1n, "the inserted entries took the ids handed out");
    }
    this.values = [];
    this.pendingRows = 0;
    this.pendingKeys.clear();
  }
}

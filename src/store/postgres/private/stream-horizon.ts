/**
 * The live stream's horizon on PostgreSQL: an entry id below which no entry can still appear.
 *
 * Ids come from a sequence, drawn inside each write transaction, and up to four batches per
 * process (and any number of processes) commit concurrently: id 50 may commit after id 51. A
 * reader that delivered 51 and then resumed "after 51" would skip 50 forever. So the horizon is
 * not the highest visible id but the highest one known to have no in-flight transaction below it:
 *
 * 1. One statement reads the highest visible id M and, in a transaction rolled back at once, takes
 *    a transaction id N of its own: N is above the id of every transaction that existed when the
 *    statement's snapshot was taken.
 * 2. Every entry id at or below M that is not visible belongs to a transaction that was running
 *    then: its id was drawn before M's (the sequence has no per-session cache, so ids are drawn
 *    in order), M committed before the snapshot, and the drawing transaction already had its
 *    transaction id, because every writer takes its users' row locks (SELECT ... FOR UPDATE,
 *    which assigns one) before it draws ids, and `appendEntries` makes sure of it. So its
 *    transaction id is below N. (The snapshot's own in-progress list is not enough: it leaves
 *    out running transactions whose ids are above every finished one; a test caught that.)
 * 3. Once a later snapshot's xmin (its oldest running transaction) is at or above N, every such
 *    transaction has ended: committed, so visible, or rolled back, so never. M is then safe.
 *
 * Each probe promotes the newest earlier candidate whose transactions have all ended, and records
 * its own as a candidate. The horizon trails by one probe (a local commit triggers one, see `PolledEntryFeed.nudge`). A transaction
 * that stays open holds the horizon until it ends: writers' transactions are short, bounded by
 * the statement timeout. Alternatives rejected: LISTEN/NOTIFY orders nothing; a commit-ordered
 * counter under one lock would serialize every writer's commit across processes; waiting for a
 * gap to fill cannot tell a rolled-back id from a slow one. Only committed rows are visible, and
 * a commit returns after its WAL is flushed, so no stream sends an entry before it is durable.
 */
import type pg from "pg";

interface Candidate {
  readonly maxId: bigint;
  /** The probe's own transaction id: every transaction that could hold an id up to `maxId` is below it. */
  readonly probeXid: bigint;
}

/** Most candidates kept while a long transaction holds the horizon; older ones are dropped. */
const CANDIDATES_MAX = 64;

// Rolled back, not committed: a transaction that only took an id writes no commit record to
// flush, so a probe costs no fsync.
const PROBE_SQL = `
  SELECT (SELECT coalesce(max(id), 0) FROM entries)::text AS max_id,
    pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
    pg_current_xact_id()::text AS probe_xid`;

interface ProbeRow {
  max_id: string;
  xmin: string;
  probe_xid: string;
}

export class PostgresStreamHorizon {
  private candidates: Candidate[] = [];
  private safeId = 0n;
  /** Probes run one after another: each judges the candidates with a snapshot newer than theirs. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly pool: pg.Pool) {}

  /** Reads a snapshot and returns the horizon it proves safe (never lower than before). */
  probe(): Promise<bigint> {
    const next = this.last.then(
      () => this.probeNow(),
      () => this.probeNow(),
    );
    this.last = next.catch(() => undefined);
    return next;
  }

  private async probeNow(): Promise<bigint> {
    const row = await this.readProbe();
    if (row === undefined) throw new Error("the horizon probe returned no row");
    const xmin = BigInt(row.xmin);
    // The newest candidate whose transactions have all ended; it and every older one go.
    for (let index = this.candidates.length - 1; index >= 0; index -= 1) {
      const candidate = this.candidates[index];
      if (candidate !== undefined && xmin >= candidate.probeXid) {
        if (candidate.maxId > this.safeId) this.safeId = candidate.maxId;
        this.candidates = this.candidates.slice(index + 1);
        break;
      }
    }
    const maxId = BigInt(row.max_id);
    if (maxId > this.safeId && (this.candidates.at(-1)?.maxId ?? 0n) < maxId) {
      this.candidates.push({ maxId, probeXid: BigInt(row.probe_xid) });
      if (this.candidates.length > CANDIDATES_MAX) this.candidates.shift();
    }
    return this.safeId;
  }

  private async readProbe(): Promise<ProbeRow | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await client.query<ProbeRow>(PROBE_SQL);
      return result.rows[0];
    } catch (error) {
      broken = error instanceof Error ? error : new Error("the horizon probe failed");
      throw error;
    } finally {
      // A connection whose rollback failed is not returned to the pool.
      await client.query("ROLLBACK").catch((error: unknown) => {
        broken ??= error instanceof Error ? error : new Error("ROLLBACK failed");
      });
      client.release(broken);
    }
  }

  /** The highest visible entry id. */
  async latestId(): Promise<bigint> {
    const result = await this.pool.query<{ max_id: string }>(
      "SELECT coalesce(max(id), 0)::text AS max_id FROM entries",
    );
    return BigInt(result.rows[0]?.max_id ?? "0");
  }
}

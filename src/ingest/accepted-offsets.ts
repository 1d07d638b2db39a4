/**
 * Count differences a re-read cannot remove (a quarantined row whose createdAt cannot be placed,
 * which the vendor counts in its window; a row the vendor dropped), accepted per range so that
 * reconciliation does not narrow down to them again: a range's difference is measured net of
 * the offsets accepted within it.
 *
 * Accepted ranges nest or are disjoint, never overlap partly. A large one (a closing pass of an
 * hour, with several unplaceable rows) keeps its offset when a smaller range inside it is
 * settled later (reconciliation had to cut through it to reach a late row): the inner offset
 * is part of the outer one, so a range holding both counts only the outer one, and a range
 * holding only the inner one counts that. Without the nesting, settling the inner range dropped
 * the outer one and every other unplaceable row in it was narrowed down and re-read again.
 */
import type { AcceptedOffset } from "../store/ingest-port.js";
import type { Range } from "./reconcile.js";

const keyOf = (range: Range): string => `${range.startMs}:${range.endMs}`;
const overlaps = (a: Range, b: Range): boolean => a.startMs < b.endMs && a.endMs > b.startMs;
const within = (inner: Range, outer: Range): boolean => inner.startMs >= outer.startMs && inner.endMs <= outer.endMs;

export class AcceptedOffsets {
  private readonly entries = new Map<string, AcceptedOffset>();

  /**
   * Accepts `offset` for `range`: it replaces an entry for the same range and entries that
   * overlap it partly; entries inside it stay while it has an offset (theirs are part of it) and
   * go when it has none; entries around it stay. Answers whether anything changed.
   * The store port's `acceptOffset` applies the same rule to the stored copy.
   */
  settle(range: Range, offset: number): boolean {
    let changed = false;
    for (const [key, entry] of this.entries) {
      if (!overlaps(entry, range)) continue;
      const same = key === keyOf(range);
      const around = !same && within(range, entry);
      const inside = !same && within(entry, range);
      if (around || (inside && offset !== 0)) continue;
      this.entries.delete(key);
      changed = true;
    }
    if (offset !== 0) this.entries.set(keyOf(range), { ...range, offset });
    return changed || offset !== 0;
  }

  restore(offsets: readonly AcceptedOffset[]): void {
    this.entries.clear();
    for (const entry of offsets) this.entries.set(keyOf(entry), entry);
  }

  /** The offsets of the outermost accepted ranges inside `range`, summed. */
  within(range: Range): number {
    const inside = [...this.entries.values()]
      .filter((entry) => within(entry, range))
      .sort((a, b) => a.startMs - b.startMs || b.endMs - a.endMs);
    let offset = 0;
    let coveredUntilMs = -Infinity;
    for (const entry of inside) {
      if (entry.endMs <= coveredUntilMs) continue;
      offset += entry.offset;
      coveredUntilMs = entry.endMs;
    }
    return offset;
  }

  /**
   * Where to cut inside `range` near `ms`: an accepted offset counts only for a range that holds
   * its whole range, so a cut through one moves to the nearest end of an accepted range around
   * `ms` that lies inside `range` (`ms` itself when none does).
   */
  cutAt(ms: number, range: Range): number {
    let best = ms;
    let bestDistanceMs = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.startMs >= ms || entry.endMs <= ms) continue;
      for (const end of [entry.startMs, entry.endMs]) {
        if (end <= range.startMs || end >= range.endMs || Math.abs(end - ms) >= bestDistanceMs) continue;
        best = end;
        bestDistanceMs = Math.abs(end - ms);
      }
    }
    return best;
  }

  /** `ms` moved forward past every accepted range it falls inside, so a round holds them whole. */
  startOutside(ms: number): number {
    let startMs = ms;
    for (const entry of this.entries.values())
      if (entry.startMs < startMs && entry.endMs > startMs) startMs = entry.endMs;
    return startMs;
  }
}

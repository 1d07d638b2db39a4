import { expect } from "chai";
import { ReconcileQueue, type Range, type ReconcileTask } from "../../src/ingest/reconcile.js";

const settings = { reconcileHorizonMs: 64_000, windowMs: 1000, pageSize: 10, startMs: 0, budgetWindowMs: 1000 };
const range = (startMs: number, endMs: number): Range => ({ startMs, endMs });
const count = (startMs: number, endMs: number): ReconcileTask => ({ type: "count", range: range(startMs, endMs) });
const read = (startMs: number, endMs: number, page = 1): ReconcileTask => ({
  type: "read",
  range: range(startMs, endMs),
  page,
});

/**
 * Runs a round against a vendor that counts `vendor(range)` rows where the ledger holds
 * `held(range)`, reading a range makes the ledger hold what the vendor counts: answers every
 * request the queue asked for.
 */
function runRound(
  queue: ReconcileQueue,
  closedUntilMs: number,
  vendor: (range: Range) => number,
  held: (range: Range) => number,
  onRead: (range: Range) => void = () => undefined,
): ReconcileTask[] {
  const asked: ReconcileTask[] = [];
  for (let task = queue.next(closedUntilMs, 0); task !== undefined; task = queue.next(closedUntilMs, 0)) {
    asked.push(task);
    expect(asked.length, "the round ends").to.be.below(100);
    if (task.type === "count") queue.counted(task.range, vendor(task.range), held(task.range));
    else {
      onRead(task.range);
      queue.pageRead(true);
      queue.settle(task.range, vendor(task.range), held(task.range));
    }
  }
  return asked;
}

/** Two rows a second, at 0.25 s and 0.75 s of each second; `late` ones are not held yet. */
function history(late: number[]) {
  const rows = Array.from({ length: 64 }, (_, second) => [second * 1000 + 250, second * 1000 + 750]).flat();
  const missing = new Set(late);
  const within = (rows: number[], r: Range) => rows.filter((at) => at >= r.startMs && at < r.endMs).length;
  return {
    vendor: (r: Range) => within(rows, r),
    held: (r: Range) => within(rows, r) - within([...missing], r),
    recover: (r: Range) => {
      for (const at of missing) if (at >= r.startMs && at < r.endMs) missing.delete(at);
    },
  };
}

describe("reconciliation queue (unit)", () => {
  it("counts the whole horizon back from closedUntil in one request; a round that agrees is done", () => {
    const queue = new ReconcileQueue(settings);
    expect(queue.next(100_000, 0)).to.deep.equal(count(36_000, 100_000));
    expect(queue.narrowing, "a round's own count keeps a slot free for the present").to.equal(false);
    expect(queue.counted(range(36_000, 100_000), 5, 5)).to.equal(true);
    expect(queue.next(100_000, 999), "one round per budget window").to.equal(undefined);
    expect(queue.next(100_000, 1000)).to.deep.equal(count(36_000, 100_000));
    // Never before the first instant ingested.
    expect(new ReconcileQueue({ ...settings, startMs: 90_000 }).next(100_000, 0)).to.deep.equal(count(90_000, 100_000));
  });

  it("narrows a difference with one count per level: the older half's counts are derived, not asked for", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    const rows = history([2250, 13_750]);
    const asked = runRound(queue, 16_000, rows.vendor, rows.held, rows.recover);
    expect(asked).to.deep.equal([
      count(0, 16_000), // 32 counted, 30 held
      count(8000, 16_000), // 16 and 15: the older half [0, 8 s) derived as 16 and 15, queued uncounted
      count(12_000, 16_000), // 8 and 7: [8 s, 12 s) derived as 8 and 8, dropped uncounted
      read(12_000, 16_000), // 8 rows fit one page: read, not cut further
      count(4000, 8000), // [0, 8 s)'s newer half agrees: [0, 4 s) derived as 8 and 7
      read(0, 4000),
    ]);
    expect(rows.held(range(0, 16_000))).to.equal(32);
  });

  it("reads a differing range at once when the vendor's count of it fits one page", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    expect(queue.next(16_000, 0)).to.deep.equal(count(0, 16_000));
    expect(queue.counted(range(0, 16_000), 10, 7)).to.equal(false);
    expect(queue.narrowing).to.equal(true);
    expect(queue.next(16_000, 0)).to.deep.equal(read(0, 16_000));
    queue.pageRead(false);
    expect(queue.next(16_000, 0), "page by page until the last").to.deep.equal(read(0, 16_000, 2));
    queue.pageRead(true);
    queue.settle(range(0, 16_000), 10, 10);
    expect(queue.next(16_000, 0)).to.equal(undefined);
    // One more row than a page: cut in two instead.
    queue.next(16_000, 5000);
    queue.counted(range(0, 16_000), 11, 7);
    expect(queue.next(16_000, 5000)).to.deep.equal(count(8000, 16_000));
  });

  it("reads a differing range of one window whatever its count", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 1000 });
    queue.next(16_000, 0);
    expect(queue.counted(range(15_000, 16_000), 500, 499)).to.equal(false);
    expect(queue.next(16_000, 0)).to.deep.equal(read(15_000, 16_000));
  });

  it("counts the older half instead when its derived counts are impossible (rows appeared between the counts)", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    queue.next(16_000, 0);
    queue.counted(range(0, 16_000), 20, 19);
    expect(queue.next(16_000, 0)).to.deep.equal(count(8000, 16_000));
    // Two rows missing from the newer half, where the whole missed one: [0, 8 s) would be −1.
    queue.counted(range(8000, 16_000), 10, 8);
    expect(queue.next(16_000, 0)).to.deep.equal(read(8000, 16_000));
    queue.pageRead(true);
    queue.settle(range(8000, 16_000), 10, 10);
    expect(queue.next(16_000, 0)).to.deep.equal(count(0, 8000));
    expect(queue.narrowing, "a recount narrows a difference found").to.equal(true);

    // A newer half counting more rows than the whole had: the older half's vendor count would be negative.
    const other = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    other.next(16_000, 0);
    other.counted(range(0, 16_000), 20, 10);
    other.next(16_000, 0);
    other.counted(range(8000, 16_000), 21, 12);
    expect(other.next(16_000, 0)).to.deep.equal(count(12_000, 16_000));
    other.counted(range(12_000, 16_000), 11, 11);
    // [8 s, 12 s) derived: 10 counted, 1 held; it fits a page.
    expect(other.next(16_000, 0)).to.deep.equal(read(8000, 12_000));
    other.pageRead(true);
    other.settle(range(8000, 12_000), 10, 10);
    expect(other.next(16_000, 0)).to.deep.equal(count(0, 8000));
  });

  it("cuts at whole seconds, and at the ends of a window whose difference was accepted", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 3000 });
    queue.next(3000, 0);
    queue.counted(range(0, 3000), 100, 99);
    expect(queue.next(3000, 0), "the middle, 1.5 s, floored to a second").to.deep.equal(count(1000, 3000));

    const accepting = new ReconcileQueue({ ...settings, reconcileHorizonMs: 4000 });
    // A closing pass over [1.5 s, 2.5 s) closed verified one row short: accepted.
    accepting.settle(range(1500, 2500), 10, 9);
    accepting.next(4000, 0);
    // Two rows short in [0, 4 s): one accepted, one late. The cut moves from 2 s to 1.5 s.
    expect(accepting.counted(range(0, 4000), 100, 98)).to.equal(false);
    expect(accepting.next(4000, 0)).to.deep.equal(count(1500, 4000));
    expect(accepting.counted(range(1500, 4000), 60, 59), "holds the accepted window whole").to.equal(true);
    // [0, 1.5 s) derived: 40 counted, 39 held, nothing accepted within it; too short to cut at a second.
    expect(accepting.next(4000, 0)).to.deep.equal(read(0, 1500));
  });

  it("moves a round's start out of an accepted window, so the window's offset still counts", () => {
    const queue = new ReconcileQueue(settings);
    queue.settle(range(35_000, 37_000), 10, 9);
    expect(queue.next(100_000, 0)).to.deep.equal(count(37_000, 100_000));
  });

  it("accepts what a re-read cannot fix, so the next round agrees without narrowing", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    const rows = history([5250]);
    // The vendor counts a row the ledger cannot place: no read removes it.
    const vendor = (r: Range) => rows.vendor(r) + (r.startMs <= 9000 && r.endMs > 9000 ? 1 : 0);
    const first = runRound(queue, 16_000, vendor, rows.held, rows.recover);
    expect(first.filter((task) => task.type === "read")).to.have.length(2);
    expect(queue.next(16_000, 500)).to.equal(undefined);
    expect(queue.next(16_000, 5000)).to.deep.equal(count(0, 16_000));
    expect(queue.counted(range(0, 16_000), vendor(range(0, 16_000)), rows.held(range(0, 16_000)))).to.equal(true);
    expect(queue.next(16_000, 5000)).to.equal(undefined);
  });

  it("says when a settle changes what is accepted, and takes over what a predecessor accepted", () => {
    const queue = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    expect(queue.settle(range(0, 1000), 5, 5), "nothing accepted, nothing to forget").to.equal(false);
    expect(queue.settle(range(0, 1000), 5, 4)).to.equal(true);
    expect(queue.settle(range(0, 2000), 9, 9), "forgets the overlapping window").to.equal(true);
    expect(queue.settle(range(1000, 2000), 4, 4)).to.equal(false);

    // A poller taking over: without its predecessor's accepted offset, the round would differ.
    const successor = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    successor.restore([{ startMs: 3000, endMs: 4000, offset: 1 }]);
    successor.next(16_000, 0);
    expect(successor.counted(range(0, 16_000), 33, 32)).to.equal(true);
    const fresh = new ReconcileQueue({ ...settings, reconcileHorizonMs: 16_000 });
    fresh.next(16_000, 0);
    expect(fresh.counted(range(0, 16_000), 33, 32)).to.equal(false);
  });

  it("does nothing when the horizon is 0", () => {
    expect(new ReconcileQueue({ ...settings, reconcileHorizonMs: 0 }).next(100_000, 0)).to.equal(undefined);
  });
});

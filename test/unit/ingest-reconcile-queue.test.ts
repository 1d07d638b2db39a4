import { expect } from "chai";
import { ReconcileQueue } from "../../src/ingest/reconcile.js";

const settings = { reconcileHorizonMs: 64_000, windowMs: 1000, startMs: 0, budgetWindowMs: 1000 };

describe("reconciliation queue (unit)", () => {
  it("counts closed history newest first, in ranges doubling in length back to the horizon", () => {
    const queue = new ReconcileQueue(settings);
    const ranges = [];
    for (let task = queue.next(100_000, 0); task !== undefined; task = queue.next(100_000, 0)) {
      expect(task.type).to.equal("count");
      ranges.push(task.range);
      expect(queue.counted(task.range, 5, 5)).to.equal(true);
    }
    expect(ranges[0]).to.deep.equal({ startMs: 99_000, endMs: 100_000 });
    expect(ranges[1]).to.deep.equal({ startMs: 97_000, endMs: 99_000 });
    // 1 + 2 + 4 + 8 + 16 + 32 s, then what is left down to 100 s − 64 s.
    expect(ranges.at(-1)).to.deep.equal({ startMs: 36_000, endMs: 37_000 });
    expect(ranges).to.have.length(7);
  });

  it("bisects a differing range down to one window, re-reads it, and accepts what a re-read cannot fix", () => {
    const queue = new ReconcileQueue(settings);
    const first = queue.next(4000, 0);
    expect(first).to.deep.equal({ type: "count", range: { startMs: 3000, endMs: 4000 } });
    queue.counted({ startMs: 3000, endMs: 4000 }, 1, 1);
    const wide = queue.next(4000, 0);
    expect(wide).to.deep.equal({ type: "count", range: { startMs: 1000, endMs: 3000 } });
    expect(queue.narrowing).to.equal(false);
    expect(queue.counted({ startMs: 1000, endMs: 3000 }, 7, 6)).to.equal(false);
    expect(queue.narrowing, "a difference found is narrowed down on the budget's last slot").to.equal(true);
    // Newer half first.
    expect(queue.next(4000, 0)).to.deep.equal({ type: "count", range: { startMs: 2000, endMs: 3000 } });
    queue.counted({ startMs: 2000, endMs: 3000 }, 3, 3);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "count", range: { startMs: 1000, endMs: 2000 } });
    queue.counted({ startMs: 1000, endMs: 2000 }, 4, 3);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "read", range: { startMs: 1000, endMs: 2000 }, page: 1 });
    queue.pageRead(false);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "read", range: { startMs: 1000, endMs: 2000 }, page: 2 });
    queue.pageRead(true);
    queue.settle({ startMs: 1000, endMs: 2000 }, 4, 3);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "count", range: { startMs: 0, endMs: 1000 } });
    expect(queue.narrowing, "back to the round's own ranges").to.equal(false);
    queue.counted({ startMs: 0, endMs: 1000 }, 0, 0);
    // The next round: the accepted offset of one makes the wider range agree.
    expect(queue.next(4000, 500)).to.equal(undefined);
    queue.next(4000, 5000);
    queue.counted({ startMs: 3000, endMs: 4000 }, 1, 1);
    expect(queue.counted({ startMs: 1000, endMs: 3000 }, 7, 6)).to.equal(true);
  });

  it("cuts ranges at the ends of a window whose difference was accepted, so the difference stays explained", () => {
    const queue = new ReconcileQueue(settings);
    // A closing pass over [1500, 2500) closed verified one row short: accepted.
    queue.settle({ startMs: 1500, endMs: 2500 }, 10, 9);
    queue.next(4000, 0);
    queue.counted({ startMs: 3000, endMs: 4000 }, 1, 1);
    // Two rows short in [1000, 3000): one accepted, one late. The cut moves from 2000 to 1500.
    expect(queue.counted({ startMs: 1000, endMs: 3000 }, 8, 6)).to.equal(false);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "count", range: { startMs: 1500, endMs: 3000 } });
    expect(queue.counted({ startMs: 1500, endMs: 3000 }, 5, 4), "holds the accepted window whole").to.equal(true);
    expect(queue.next(4000, 0)).to.deep.equal({ type: "count", range: { startMs: 1000, endMs: 1500 } });
  });

  it("does nothing when the horizon is 0", () => {
    expect(new ReconcileQueue({ ...settings, reconcileHorizonMs: 0 }).next(100_000, 0)).to.equal(undefined);
  });
});

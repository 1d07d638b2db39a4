import { expect } from "chai";
import { AcceptedOffsets } from "../../src/ingest/accepted-offsets.js";

const range = (startMs: number, endMs: number) => ({ startMs, endMs });

describe("accepted count differences (unit)", () => {
  it("keeps an outer range's offset when a range inside it is settled, and counts only the outermost", () => {
    const accepted = new AcceptedOffsets();
    // A closing pass of [0, 16 s) with two unplaceable rows; later a re-read of [8 s, 12 s) holding one.
    accepted.settle(range(0, 16_000), 2);
    expect(accepted.settle(range(8000, 12_000), 1)).to.equal(true);
    expect(accepted.within(range(0, 16_000)), "the inner offset is part of the outer one").to.equal(2);
    expect(accepted.within(range(0, 32_000))).to.equal(2);
    expect(accepted.within(range(8000, 16_000)), "only the inner range is whole in here").to.equal(1);
    expect(accepted.within(range(0, 8000))).to.equal(0);
    // Settling the outer range again keeps what is inside it while it has an offset...
    accepted.settle(range(0, 16_000), 2);
    expect(accepted.within(range(8000, 16_000))).to.equal(1);
    // ...and forgets it when the outer range has none.
    expect(accepted.settle(range(0, 16_000), 0)).to.equal(true);
    expect(accepted.within(range(0, 32_000))).to.equal(0);
  });

  it("replaces ranges it overlaps partly, and says when nothing changed", () => {
    const accepted = new AcceptedOffsets();
    expect(accepted.settle(range(0, 1000), 0)).to.equal(false);
    accepted.settle(range(0, 2000), 1);
    accepted.settle(range(5000, 6000), 3);
    expect(accepted.settle(range(1000, 3000), 1)).to.equal(true);
    expect(accepted.within(range(0, 10_000))).to.equal(4);
    expect(accepted.within(range(0, 2000)), "[0, 2 s) is gone").to.equal(0);
    expect(accepted.settle(range(6000, 7000), 0), "touching at an end is no overlap").to.equal(false);
  });

  it("cuts at the nearest end, inside the range, of the accepted ranges around the cut", () => {
    const accepted = new AcceptedOffsets();
    accepted.settle(range(0, 16_000), 2);
    accepted.settle(range(6000, 9000), 1);
    // Inside [0, 16 s) the outer ends are no use; the inner range's start is nearest.
    expect(accepted.cutAt(8000, range(0, 16_000))).to.equal(9000);
    expect(accepted.cutAt(7000, range(0, 16_000))).to.equal(6000);
    // Neither end inside: the cut stays.
    expect(accepted.cutAt(7000, range(6500, 8500))).to.equal(7000);
    expect(accepted.cutAt(12_000, range(0, 16_000))).to.equal(12_000);
    expect(accepted.startOutside(7000)).to.equal(16_000);
    expect(accepted.startOutside(16_000)).to.equal(16_000);
  });
});

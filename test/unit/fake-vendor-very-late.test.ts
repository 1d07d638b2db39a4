import { expect } from "chai";
import { FakeData } from "../../tools/fake-vendor/generator.js";

const base = { seed: 7, txPerMinute: 600, users: 10, startMs: 0, badRowRate: 0, lateRate: 0, lateMaxMs: 0 };

describe("fake vendor: rows that appear long after their createdAt", () => {
  it("delays about the configured share of rows by between the minimum and maximum delay", () => {
    const data = new FakeData({ ...base, veryLateRate: 0.1, veryLateMinMs: 3_600_000, veryLateMaxMs: 86_400_000 });
    let veryLate = 0;
    for (let index = 0; index < 5000; index += 1) {
      const row = data.get(index);
      const delayMs = row.visibleAtMs - row.createdAtMs;
      if (delayMs === 0) continue;
      veryLate += 1;
      expect(delayMs).to.be.at.least(3_600_000).and.below(86_400_000);
    }
    expect(veryLate).to.be.within(400, 600);
  });

  it("hides a very late row from answers until it appears, then serves it in its old range", () => {
    const data = new FakeData({ ...base, veryLateRate: 0.2, veryLateMinMs: 5000, veryLateMaxMs: 5001 });
    const late = Array.from({ length: 100 }, (_, index) => data.get(index)).find(
      (row) => row.visibleAtMs > row.createdAtMs,
    );
    if (late === undefined) throw new Error("no very late row among the first 100");
    const range = [late.createdAtMs, late.createdAtMs + 1] as const;
    expect(data.query(...range, late.visibleAtMs - 1)).to.have.length(0);
    expect(data.query(...range, late.visibleAtMs).map((row) => row.index)).to.deep.equal([late.index]);
  });

  it("changes nothing else in the stream for the same seed", () => {
    const plain = new FakeData(base);
    const faulty = new FakeData({ ...base, veryLateRate: 0.5, veryLateMinMs: 1000, veryLateMaxMs: 2000 });
    for (let index = 0; index < 200; index += 1) expect(faulty.get(index).json).to.equal(plain.get(index).json);
  });
});

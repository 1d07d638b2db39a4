/**
 * The seeds' major-unit amounts to and from minor units: exact, by the currency's decimals,
 * from the decimal text (never a double), with the refusals a caller needs to see.
 */
import { expect } from "chai";
import { majorToMinor, minorToJsonNumber, minorToMajor } from "../../src/rpc/compat/major-units.js";
import { JsonNumber } from "../../src/ingest/exact-json.js";

describe("compat major units", () => {
  it("converts strings and JSON number literals exactly, signed", () => {
    expect(majorToMinor("100.23", "USD", "amount")).to.deep.equal({ ok: true, minor: 10023n });
    expect(majorToMinor(new JsonNumber("-2"), "USD", "amount")).to.deep.equal({ ok: true, minor: -200n });
    expect(majorToMinor(new JsonNumber("1500"), "JPY", "amount")).to.deep.equal({ ok: true, minor: 1500n });
    expect(majorToMinor("1.005", "BHD", "amount")).to.deep.equal({ ok: true, minor: 1005n });
    expect(majorToMinor(new JsonNumber("90071992547409.93"), "USD", "amount")).to.deep.equal({
      ok: true,
      minor: 9007199254740993n,
    });
    expect(majorToMinor("0", "USD", "amount")).to.deep.equal({ ok: true, minor: 0n });
  });

  it("refuses more decimals than the currency has, non-numbers, and unknown currencies", () => {
    for (const [value, currency] of [
      ["1.001", "USD"],
      ["1.5", "JPY"],
      ["one", "USD"],
      ["", "USD"],
      ["1e30", "USD"],
      ["1", "XQQ"],
    ] as const) {
      expect(majorToMinor(value, currency, "amount").ok, `${value} ${currency}`).to.equal(false);
    }
    expect(majorToMinor(true, "USD", "amount").ok).to.equal(false);
    expect(majorToMinor(undefined, "USD", "amount").ok).to.equal(false);
  });

  it("formats minor units as major-unit text and as a trimmed JSON number", () => {
    expect(minorToMajor(10023n, "USD")).to.equal("100.23");
    expect(minorToMajor(-5n, "USD")).to.equal("-0.05");
    expect(minorToMajor(7n, "JPY")).to.equal("7");
    expect(minorToMajor(1005n, "BHD")).to.equal("1.005");
    expect(minorToJsonNumber(999800n, "USD")).to.equal("9998");
    expect(minorToJsonNumber(850n, "USD")).to.equal("8.5");
    expect(minorToJsonNumber(0n, "USD")).to.equal("0");
    expect(minorToJsonNumber(9007199254740993n, "USD")).to.equal("90071992547409.93");
  });
});

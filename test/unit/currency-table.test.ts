import { expect } from "chai";
import { ISO_4217_MINOR_UNITS, isKnownCurrency, minorUnitDigits } from "../../src/domain/currency.js";
import { decimalToMinor } from "../../src/ingest/decimal.js";

// Written out from ISO 4217 list one on their own, apart from the table, so that a wrong entry
// in either shows up: every code not named here has two decimals.
const ZERO_DECIMALS = [
  "BIF",
  "CLP",
  "DJF",
  "GNF",
  "ISK",
  "JPY",
  "KMF",
  "KRW",
  "PYG",
  "RWF",
  "UGX",
  "UYI",
  "VND",
  "VUV",
  "XAF",
  "XOF",
  "XPF",
];
const THREE_DECIMALS = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS = ["CLF", "UYW"];

describe("ISO 4217 minor units (the checked-in table, not the locale)", () => {
  it("has the minor units of every code, as ISO 4217 lists them", () => {
    const codes = Object.keys(ISO_4217_MINOR_UNITS);
    expect(codes.length).to.be.greaterThan(150);
    for (const code of codes) {
      const expected = ZERO_DECIMALS.includes(code)
        ? 0
        : THREE_DECIMALS.includes(code)
          ? 3
          : FOUR_DECIMALS.includes(code)
            ? 4
            : 2;
      expect(minorUnitDigits(code), code).to.equal(expected);
      expect(isKnownCurrency(code), code).to.equal(true);
      expect(code, code).to.match(/^[A-Z]{3}$/);
    }
    for (const code of [...ZERO_DECIMALS, ...THREE_DECIMALS, ...FOUR_DECIMALS]) expect(codes, code).to.include(code);
  });

  it("gives HUF, COP and IDR two decimals and IQD three, where the en locale says none", () => {
    expect(["HUF", "COP", "IDR", "IQD"].map(minorUnitDigits)).to.deep.equal([2, 2, 2, 3]);
    expect(decimalToMinor("12.50", minorUnitDigits("HUF"))).to.deep.equal({ ok: true, minor: 1250n });
    expect(decimalToMinor("1.125", minorUnitDigits("IQD"))).to.deep.equal({ ok: true, minor: 1125n });
  });

  it("refuses codes without minor units (metals, test code) and unknown codes", () => {
    for (const code of ["XAU", "XTS", "XXX", "XDR", "USS", "usd", "", "EURO"])
      expect(isKnownCurrency(code), code).to.equal(false);
    expect(() => minorUnitDigits("XAU")).to.throw(/XAU/);
  });
});

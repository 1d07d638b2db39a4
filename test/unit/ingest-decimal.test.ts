import { expect } from "chai";
import { decimalToMinor } from "../../src/ingest/decimal.js";
import { JsonNumber, isJsonArray, isJsonObject, parseExactJson, JsonSyntaxError } from "../../src/ingest/exact-json.js";

const minor = (text: string, digits = 2) => {
  const result = decimalToMinor(text, digits);
  return result.ok ? result.minor : result.reason;
};

describe("ingest unit: decimal amounts to minor units", () => {
  it("converts exactly, without floats", () => {
    expect(minor("0.1")).to.equal(10n);
    expect(minor("19.99")).to.equal(1999n);
    expect(minor("1.2")).to.equal(120n);
    expect(minor("30")).to.equal(3000n);
    expect(minor("1.50")).to.equal(150n);
    expect(minor("1.500")).to.equal(150n);
    expect(minor("0.01")).to.equal(1n);
    // 0.1 + 0.2 in doubles is 0.30000000000000004; here the digits are the value.
    expect(minor("0.3")).to.equal(30n);
  });

  it("quarantines fractions of a minor unit", () => {
    expect(minor("1.005")).to.equal("too_precise");
    expect(minor("0.001")).to.equal("too_precise");
    expect(minor("1e-3")).to.equal("too_precise");
    expect(minor("1e-9999999")).to.equal("too_precise");
  });

  it("reads exponent notation exactly", () => {
    expect(minor("1e2")).to.equal(10000n);
    expect(minor("1E2")).to.equal(10000n);
    expect(minor("1.5e1")).to.equal(1500n);
    expect(minor("120e-2")).to.equal(120n);
    expect(minor("5e-1")).to.equal(50n);
    expect(minor("1e+2")).to.equal(10000n);
  });

  it("refuses zero, minus zero and negatives: the type says the direction", () => {
    expect(minor("0")).to.equal("not_positive");
    expect(minor("-0")).to.equal("not_positive");
    expect(minor("0.00")).to.equal("not_positive");
    expect(minor("0e5")).to.equal("not_positive");
    expect(minor("-3")).to.equal("not_positive");
    expect(minor("-1.005")).to.equal("not_positive");
  });

  it("keeps huge values exact up to int64 and refuses beyond", () => {
    // 2^53 + 1 minor units: a double would round it to 2^53.
    expect(minor("90071992547409.93")).to.equal(2n ** 53n + 1n);
    expect(minor("9007199254740993", 0)).to.equal(2n ** 53n + 1n);
    expect(minor("92233720368547758.07")).to.equal(2n ** 63n - 1n);
    expect(minor("92233720368547758.08")).to.equal("out_of_range");
    expect(minor("1e30")).to.equal("out_of_range");
    expect(minor("1e9999999")).to.equal("out_of_range");
    expect(minor("1".repeat(65))).to.equal("out_of_range");
  });

  it("uses the currency's own minor unit", () => {
    expect(minor("1.005", 3)).to.equal(1005n);
    expect(minor("500", 0)).to.equal(500n);
    expect(minor("500.5", 0)).to.equal("too_precise");
  });

  it("refuses text that is not a JSON number", () => {
    for (const text of ["", "1.", ".5", "01", "+1", "1e", "NaN", "Infinity", "0x10", "1,5", " 1"]) {
      expect(minor(text), text).to.equal("not_a_number");
    }
  });
});

describe("ingest unit: exact JSON parsing", () => {
  it("keeps number text and item sources byte for byte", () => {
    const text = `{"items":[ {"amount":19.99} ,{"amount":1e2,"x":[1,2]}],"meta":{"totalItems":2}}`;
    const body = parseExactJson(text);
    if (!isJsonObject(body)) throw new Error("not an object");
    const items = body.fields.get("items");
    if (!isJsonArray(items)) throw new Error("not an array");
    expect(items.sources).to.deep.equal([`{"amount":19.99}`, `{"amount":1e2,"x":[1,2]}`]);
    const first = items.items[0];
    if (!isJsonObject(first)) throw new Error("not an object");
    const amount = first.fields.get("amount");
    expect(amount).to.be.instanceOf(JsonNumber);
    expect((amount as JsonNumber).text).to.equal("19.99");
  });

  it("keeps 2^53 + 1 as written", () => {
    const body = parseExactJson(`[9007199254740993]`);
    if (!isJsonArray(body)) throw new Error("not an array");
    expect((body.items[0] as JsonNumber).text).to.equal("9007199254740993");
  });

  it("reports duplicate keys instead of silently keeping one", () => {
    const body = parseExactJson(`{"amount":1,"amount":1000}`);
    if (!isJsonObject(body)) throw new Error("not an object");
    expect(body.duplicateKeys).to.deep.equal(["amount"]);
  });

  it("decodes strings with escapes and refuses malformed JSON", () => {
    expect(parseExactJson(`"a\\"b\\u0041"`)).to.equal('a"bA');
    for (const bad of [`{"a":1`, `{"a":01}`, `[1,]`, `{'a':1}`, `"unterminated`, `{"a":1} x`, `[${"[".repeat(40)}]`]) {
      expect(() => parseExactJson(bad), bad).to.throw(JsonSyntaxError);
    }
  });
});

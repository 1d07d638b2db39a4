/**
 * Input validation and page tokens: what becomes a trusted domain value.
 */
import { expect } from "chai";
import { decodePageToken, encodePageToken } from "../../src/domain/page-token.js";
import { parseMutation } from "../../src/domain/validate.js";
import { isKnownCurrency, minorUnitDigits } from "../../src/domain/currency.js";

describe("parseMutation", () => {
  const valid = { userId: "074092", amount: 1n, currency: "", idempotencyKey: "" };

  it("fills the default currency and treats an empty key as none", () => {
    expect(parseMutation("load", valid, "EUR")).to.deep.equal({
      ok: true,
      value: { userId: "074092", amount: 1n, currency: "EUR", idempotencyKey: null },
    });
  });

  it("accepts UUIDs and vendor-style ids", () => {
    for (const userId of ["0b7e2a1c-5d4f-4e8a-9c3b-2f1e0d9c8b7a", "user@example.com", "a.b_c:d-e"]) {
      expect(parseMutation("load", { ...valid, userId }, "USD").ok, userId).to.equal(true);
    }
  });

  it("refuses non-ASCII and control characters in user ids and keys", () => {
    for (const bad of ["ü", "a\u0000b", "a\nb", "\uFFFD"]) {
      const parsed = parseMutation("load", { ...valid, userId: bad, idempotencyKey: bad }, "USD");
      expect(parsed.ok).to.equal(false);
      if (!parsed.ok) expect(parsed.violations.map((v) => v.field)).to.deep.equal(["user_id", "idempotency_key"]);
    }
  });

  it("allows negative amounts only for adjustments", () => {
    expect(parseMutation("adjust", { ...valid, amount: -5n }, "USD").ok).to.equal(true);
    expect(parseMutation("load", { ...valid, amount: -5n }, "USD").ok).to.equal(false);
    expect(parseMutation("authorize", { ...valid, amount: -5n }, "USD").ok).to.equal(false);
  });
});

describe("currencies", () => {
  it("knows ISO 4217 codes and their minor units", () => {
    expect(isKnownCurrency("EUR")).to.equal(true);
    expect(isKnownCurrency("EUX")).to.equal(false);
    expect([minorUnitDigits("EUR"), minorUnitDigits("JPY"), minorUnitDigits("BHD")]).to.deep.equal([2, 0, 3]);
  });
});

describe("page tokens", () => {
  it("round-trip a position, including awkward user ids", () => {
    const position = { userId: "a:b@c", currency: "EUR" };
    expect(decodePageToken(encodePageToken(position))).to.deep.equal(position);
  });

  it("reject tokens we did not issue", () => {
    for (const token of [
      "",
      "!!!",
      Buffer.from("[1,2]").toString("base64url"),
      Buffer.from("{}").toString("base64url"),
    ]) {
      expect(decodePageToken(token), token).to.equal(undefined);
    }
  });
});

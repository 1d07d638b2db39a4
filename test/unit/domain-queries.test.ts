/**
 * Reads are validated like mutations: in one place, into domain values, before the ledger sees
 * them, so that `Ledger` never receives a protobuf message.
 */
import { expect } from "chai";
import { encodePageToken } from "../../src/domain/page-token.js";
import {
  parseBalanceQuery,
  parsePayoutQuery,
  PAYOUT_PAGE_SIZE_DEFAULT,
  PAYOUT_PAGE_SIZE_MAX,
} from "../../src/domain/queries.js";

describe("read queries", () => {
  it("parses a balance query; an empty currency means every currency", () => {
    expect(parseBalanceQuery({ userId: "074092", currency: "" })).to.deep.equal({
      ok: true,
      value: { userId: "074092" },
    });
    expect(parseBalanceQuery({ userId: "u", currency: "EUR" })).to.deep.equal({
      ok: true,
      value: { userId: "u", currency: "EUR" },
    });
    const bad = parseBalanceQuery({ userId: "", currency: "usd" });
    expect(bad.ok).to.equal(false);
    if (!bad.ok) expect(bad.violations.map((violation) => violation.field)).to.deep.equal(["user_id", "currency"]);
  });

  it("parses a payout query into filters, a bounded page size and a decoded position", () => {
    const after = { userId: "a", currency: "EUR" };
    expect(parsePayoutQuery({ userId: "", currency: "", pageSize: 0, pageToken: "" })).to.deep.equal({
      ok: true,
      value: { limit: PAYOUT_PAGE_SIZE_DEFAULT },
    });
    expect(
      parsePayoutQuery({ userId: "u", currency: "EUR", pageSize: 5000, pageToken: encodePageToken(after) }),
    ).to.deep.equal({ ok: true, value: { userId: "u", currency: "EUR", limit: PAYOUT_PAGE_SIZE_MAX, after } });
    const bad = parsePayoutQuery({ userId: "a b", currency: "", pageSize: -1, pageToken: "!!" });
    expect(bad.ok).to.equal(false);
    if (!bad.ok)
      expect(bad.violations.map((violation) => violation.field)).to.deep.equal(["user_id", "page_size", "page_token"]);
  });
});

/**
 * google.api.http path templates: parsing, matching, verbs, multi-segment variables and
 * percent-decoding, and the templates the grammar refuses.
 */
import { expect } from "chai";
import {
  matchPathTemplate,
  parsePathTemplate,
  PathTemplateError,
  PathValueError,
} from "../../src/rpc/gateway/path-template.js";

const match = (template: string, path: string) => {
  const values = matchPathTemplate(parsePathTemplate(template), path);
  return values === undefined ? undefined : Object.fromEntries(values);
};

describe("path templates (google.api.http)", () => {
  it("binds single-segment variables and literals", () => {
    expect(match("/v1/users/{user_id}/balances", "/v1/users/alice/balances")).to.deep.equal({ user_id: "alice" });
    expect(match("/v1/users/{user_id}/balances", "/v1/users/alice/payouts")).to.equal(undefined);
    expect(match("/v1/users/{user_id}/balances", "/v1/users//balances")).to.equal(undefined);
    expect(match("/v1/users/{user_id}/balances", "/v1/users/a/b/balances")).to.equal(undefined);
    expect(match("/v1/payouts", "/v1/payouts")).to.deep.equal({});
  });

  it("matches a verb as a suffix of the last segment, so values may hold colons", () => {
    expect(match("/v1/users/{user_id}:load", "/v1/users/alice:load")).to.deep.equal({ user_id: "alice" });
    expect(match("/v1/users/{user_id}:load", "/v1/users/a:b:load")).to.deep.equal({ user_id: "a:b" });
    expect(match("/v1/users/{user_id}:load", "/v1/users/alice:authorize")).to.equal(undefined);
    expect(match("/v1/users/{user_id}:load", "/v1/users/alice")).to.equal(undefined);
  });

  it("percent-decodes one segment fully and keeps %2F inside a multi-segment value", () => {
    expect(match("/v1/users/{user_id}", "/v1/users/ops%40example.com")).to.deep.equal({ user_id: "ops@example.com" });
    expect(match("/v1/users/{user_id}", "/v1/users/a%2Fb")).to.deep.equal({ user_id: "a/b" });
    expect(match("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b%2F2")).to.deep.equal({
      name: "shelves/s1/books/b%2F2",
    });
    expect(match("/v1/{path=**}", "/v1/a/b/c")).to.deep.equal({ path: "a/b/c" });
    expect(() => match("/v1/users/{user_id}", "/v1/users/%E0%A4%A")).to.throw(PathValueError);
  });

  it("refuses malformed templates at start-up", () => {
    for (const bad of ["v1/users", "/v1/{user_id", "/v1/**/x", "/v1/{1bad}", "/v1//x"]) {
      expect(() => parsePathTemplate(bad), bad).to.throw(PathTemplateError);
    }
  });
});

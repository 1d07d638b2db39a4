/**
 * The fast parse of plain JSON requests (src/rpc/json-decode.ts) against the full path it
 * stands in for: the int64 rule (src/rpc/json-int64.ts) and protobuf-es's `fromJsonString` with
 * connect's options. Whatever body the fast parse accepts, the full path must accept too and make
 * an equal message of, for every request type of the service.
 */
import { equals, fromJsonString, type DescMessage, type Message } from "@bufbuild/protobuf";
import { expect } from "chai";
import fc from "fast-check";
import { AdjustBalanceRequestSchema, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { compileFromJson } from "../../src/rpc/json-decode.js";
import { int64JsonViolations } from "../../src/rpc/json-int64.js";

/** The full path: what the lean path did before the fast parse, and still does when it declines. */
function fullParse(schema: DescMessage, text: string): Message | "refused" {
  if (int64JsonViolations(schema, text).length > 0) return "refused";
  try {
    return fromJsonString(schema, text, { ignoreUnknownFields: true });
  } catch {
    return "refused";
  }
}

const valueArbitrary = fc.oneof(
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("", "wallet", "USD", "amount", "userId", 'a"b', "a\\b", "\u00e9", "\uFFFD"),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 65n }).map(String),
  fc.constantFrom("0", "-0", "007", "1e3", " 7", "0x10", "1.0", "+1", "9223372036854775808", "18446744073709551615"),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
  fc.constant([]),
);

/** A JSON object text whose keys may repeat, be escaped, or be unknown, with random spacing. */
function bodyArbitrary(schema: DescMessage): fc.Arbitrary<string> {
  const names = schema.fields.flatMap((field) => [field.jsonName, field.name]);
  const key = fc.oneof(fc.constantFrom(...names, "x", "__proto__"), fc.string({ maxLength: 4 }));
  const space = fc.constantFrom("", " ", "\n\t");
  const entry = fc.tuple(key, valueArbitrary, fc.boolean(), space).map(([name, value, escape, gap]) => {
    const quoted =
      escape && name.length > 0
        ? `"\\u${name.charCodeAt(0).toString(16).padStart(4, "0")}${JSON.stringify(name).slice(2)}`
        : JSON.stringify(name);
    return `${gap}${quoted}${gap}:${gap}${JSON.stringify(value)}`;
  });
  return fc.oneof(
    fc.array(entry, { maxLength: 5 }).map((entries) => `{${entries.join(",")}}`),
    fc.constantFrom("", "null", "[]", "{", '"x"', "\uFEFF{}", "{}"),
  );
}

const requestTypes = [
  ...new Map(LedgerService.methods.map((method) => [method.input.typeName, method.input])).values(),
];

describe("the fast parse of plain JSON requests", () => {
  for (const schema of requestTypes) {
    it(`accepts only ${schema.typeName} bodies the full path accepts, and makes the same message`, () => {
      const fast = compileFromJson(schema);
      let taken = 0;
      fc.assert(
        fc.property(bodyArbitrary(schema), (text) => {
          const message = fast(text);
          if (message === undefined) return;
          taken += 1;
          const full = fullParse(schema, text);
          expect(full, text).to.not.equal("refused");
          expect(equals(schema, message as never, full as never), text).to.equal(true);
        }),
        { numRuns: 2000 },
      );
      // Every request type has a field the fast path handles, so random bodies reach it.
      expect(taken, schema.typeName).to.be.greaterThan(0);
    });
  }

  it("takes the wallet's body and declines what only the full path can judge", () => {
    const fast = compileFromJson(AdjustBalanceRequestSchema);
    const wallet = fast('{"userId":"wallet","amount":"-2"}');
    expect(
      wallet &&
        equals(
          AdjustBalanceRequestSchema,
          wallet as never,
          fullParse(AdjustBalanceRequestSchema, '{"userId":"wallet","amount":"-2"}') as never,
        ),
    ).to.equal(true);
    for (const text of [
      '{"userId":"a","amount":-2}',
      '{"userId":"a","amount":"007"}',
      '{"userId":"a","amount":"1e3"}',
      '{"amount":"1","amount":"2"}',
      '{"user_id":"a","userId":"b"}',
      '{"\\u0061mount":"1e3","amount":"5"}',
      '{"userId":null}',
      '{"unknown":"x"}',
      '{"userId":"amount","amount":"1"}',
      '{"amount":"9223372036854775808"}',
      "\uFEFF{}",
    ]) {
      expect(fast(text), text).to.equal(undefined);
    }
  });
});

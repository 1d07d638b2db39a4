/**
 * The compiled JSON encoder (src/rpc/json-encode.ts) and the error body built on it
 * (src/rpc/error-json.ts) against protobuf-es's `toJsonString` and connect's `errorToJsonBytes`,
 * on random messages of every type the service's methods take or answer with and of every error
 * detail: the HTTP/1.1 lean path sends their bytes, so they must be the same bytes.
 */
import {
  create,
  toJsonString,
  ScalarType,
  type DescField,
  type DescMessage,
  type JsonWriteOptions,
  type Message,
} from "@bufbuild/protobuf";
import { AnySchema, StructSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { expect } from "chai";
import fc from "fast-check";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdjustBalanceResponseSchema, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { errorJsonBytes } from "../../src/rpc/error-json.js";
import { compileToJson } from "../../src/rpc/json-encode.js";

const OPTIONS: Partial<JsonWriteOptions> = { alwaysEmitImplicit: true };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const DEPTH_MAX = 3;

/** Every message type reachable from `roots`, each once. */
function reachable(roots: readonly DescMessage[]): DescMessage[] {
  const seen = new Map<string, DescMessage>();
  const visit = (desc: DescMessage) => {
    if (seen.has(desc.typeName)) return;
    seen.set(desc.typeName, desc);
    for (const field of desc.fields) if (field.message !== undefined) visit(field.message);
  };
  roots.forEach(visit);
  return [...seen.values()];
}

function scalarArbitrary(scalar: ScalarType): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.STRING:
      return fc.oneof(fc.string({ unit: "binary", maxLength: 8 }), fc.constantFrom("", '"\\\n</script>', "\u2028"));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 8 });
    case ScalarType.DOUBLE:
      return fc.double();
    case ScalarType.FLOAT:
      return fc.float();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.integer();
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.nat({ max: 2 ** 32 - 1 });
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    default:
      return fc.oneof(fc.bigInt(INT64), fc.constantFrom(0n, INT64.min, INT64.max));
  }
}

const timestampArbitrary = fc
  .record({
    seconds: fc.oneof(
      fc.bigInt({ min: -62_135_596_800n, max: 253_402_300_799n }),
      fc.constantFrom(0n, -62_135_596_801n, 253_402_300_800n),
    ),
    nanos: fc.oneof(
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.integer({ min: 0, max: 999 }).map((ms) => ms * 1_000_000),
      fc.integer({ min: 0, max: 999_999 }).map((us) => us * 1000),
      fc.constantFrom(0, -1, 1_000_000_000),
    ),
  })
  .map((init) => create(TimestampSchema, init));

function messageArbitrary(desc: DescMessage, depth: number): fc.Arbitrary<Message> {
  if (desc.typeName === TimestampSchema.typeName) return timestampArbitrary;
  const fieldArbitraries: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof !== undefined) continue;
    const value = valueArbitrary(field, depth);
    if (value !== undefined) fieldArbitraries[field.localName] = value;
  }
  for (const oneof of desc.oneofs) {
    const cases = oneof.fields.flatMap((field) => {
      const value = valueArbitrary(field, depth);
      return value === undefined ? [] : [value.map((chosen) => ({ case: field.localName, value: chosen }))];
    });
    fieldArbitraries[oneof.localName] = fc.oneof(fc.constant({ case: undefined }), ...cases);
  }
  return fc.record(fieldArbitraries, { requiredKeys: [] }).map((init) => create(desc, init as never) as Message);
}

function valueArbitrary(field: DescField, depth: number): fc.Arbitrary<unknown> | undefined {
  const one = (kind: "scalar" | "enum" | "message"): fc.Arbitrary<unknown> | undefined => {
    if (kind === "scalar") return scalarArbitrary(field.scalar!);
    if (kind === "enum") {
      const known = field.enum!.values.map((value) => value.number);
      return fc.oneof(fc.constantFrom(...known), fc.integer({ min: -3, max: 40 }));
    }
    return depth >= DEPTH_MAX ? undefined : messageArbitrary(field.message!, depth + 1);
  };
  switch (field.fieldKind) {
    case "list": {
      const item = one(field.listKind);
      return item && fc.array(item, { maxLength: 3 });
    }
    case "map": {
      const entry = one(field.mapKind);
      return entry && fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 3 });
    }
    default:
      return one(field.fieldKind);
  }
}

/** protobuf-es's JSON, or its error's message. */
function reference(desc: DescMessage, message: Message): string {
  try {
    return toJsonString(desc, message, OPTIONS);
  } catch (error) {
    return `threw: ${(error as Error).message}`;
  }
}

function compiled(desc: DescMessage, message: Message): string {
  const encode = compileToJson(desc, OPTIONS);
  if (encode === undefined) throw new Error(`${desc.typeName} was not compiled`);
  try {
    return JSON.stringify(encode(message));
  } catch (error) {
    return `threw: ${(error as Error).message}`;
  }
}

const serviceTypes = reachable(LedgerService.methods.flatMap((method) => [method.input, method.output]));
const detailTypes = [ErrorInfoSchema, BadRequestSchema, RetryInfoSchema];

describe("compiled protobuf JSON (the HTTP/1.1 lean path's answers)", function () {
  this.timeout(60_000);

  it("compiles every message type the service takes or answers with, and every error detail", () => {
    const missing = [...serviceTypes, ...reachable(detailTypes)].filter((desc) => !compileToJson(desc, OPTIONS));
    expect(missing.map((desc) => desc.typeName)).to.deep.equal([]);
  });

  for (const desc of [...serviceTypes, ...reachable(detailTypes)]) {
    it(`writes ${desc.typeName} byte for byte as protobuf-es does`, () => {
      fc.assert(
        fc.property(messageArbitrary(desc, 0), (message) => {
          expect(compiled(desc, message)).to.equal(reference(desc, message));
        }),
        { numRuns: 150 },
      );
    });
  }

  it("leaves to protobuf-es a value its field does not declare, so the error reads the same", () => {
    const message = create(AdjustBalanceResponseSchema, { userId: "u" });
    (message as unknown as Record<string, unknown>).amount = 1.5;
    expect(reference(AdjustBalanceResponseSchema, message)).to.match(/^threw: cannot encode field/);
    expect(compiled(AdjustBalanceResponseSchema, message)).to.equal(reference(AdjustBalanceResponseSchema, message));
    const outOfRange = create(AdjustBalanceResponseSchema, { createdAt: { seconds: 253_402_300_800n } });
    expect(reference(AdjustBalanceResponseSchema, outOfRange)).to.match(/^threw: .*9999-12-31T23:59:59Z/);
    expect(compiled(AdjustBalanceResponseSchema, outOfRange)).to.equal(
      reference(AdjustBalanceResponseSchema, outOfRange),
    );
  });

  it("declines what it does not cover: other options, Any, Struct", () => {
    expect(compileToJson(AdjustBalanceResponseSchema, {})).to.equal(undefined);
    expect(compileToJson(AdjustBalanceResponseSchema, { alwaysEmitImplicit: true, enumAsInteger: true })).to.equal(
      undefined,
    );
    expect(compileToJson(AdjustBalanceResponseSchema, { alwaysEmitImplicit: true, useProtoFieldName: true })).to.equal(
      undefined,
    );
    expect(compileToJson(AnySchema, OPTIONS)).to.equal(undefined);
    expect(compileToJson(StructSchema, OPTIONS)).to.equal(undefined);
  });
});

describe("the Connect JSON error body", () => {
  const detailArbitrary = fc.oneof(
    ...detailTypes.map((desc) => messageArbitrary(desc, 0).map((value) => ({ desc, value }))),
    // A detail as received from another service: passed on as it came.
    fc.record(
      { type: fc.string({ maxLength: 6 }), value: fc.uint8Array({ maxLength: 7 }), debug: fc.jsonValue() },
      { requiredKeys: ["type", "value"] },
    ),
  );
  const codes = Object.values(Code).filter((code): code is Code => typeof code === "number");

  it("is connect's errorToJsonBytes byte for byte, for any code, message and details", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.oneof(fc.constant(""), fc.string({ unit: "binary", maxLength: 12 })),
        fc.array(detailArbitrary, { maxLength: 3 }),
        fc.constantFrom<Partial<JsonWriteOptions>>(OPTIONS, {}),
        (code, text, details, options) => {
          const error = new ConnectError(text, code, undefined, details as never);
          const ours = Buffer.from(errorJsonBytes(error, options)).toString("utf8");
          expect(ours).to.equal(Buffer.from(errorToJsonBytes(error, options)).toString("utf8"));
        },
      ),
      { numRuns: 500 },
    );
  });
});

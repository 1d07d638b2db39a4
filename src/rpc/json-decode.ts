/**
 * A fast path for the commonest Connect JSON request body: a flat object whose keys are fields
 * of the request (each given once) holding strings, booleans and 64-bit integers spelled as
 * canonical decimal strings, as `{"userId":"wallet","amount":"-2"}`. It parses with `JSON.parse`
 * once, where the lean HTTP/1.1 path otherwise parses the text twice: with our exact parser for
 * the int64 rule (./json-int64.ts) and with protobuf-es's reflection-based `fromJson` (together
 * 6-8% of the HTTP/1.1 wallet's server time, bench/README.md).
 *
 * It answers undefined for anything else, and the caller takes the full path: escapes (a key
 * may be spelled with them), a key given twice or under both its names, unknown keys, nulls,
 * numbers, nested messages, other field types, non-canonical integers ("007", "-0", "1e3") and
 * text that is not valid UTF-8 or not JSON. So whatever it accepts, the full path would accept
 * too and make the same message of; test/unit/json-decode.test.ts checks that on random bodies.
 */
import { create, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";

type Convert = (value: unknown) => unknown;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]{0,19})$/;

function integerConvert(min: bigint, max: bigint): Convert {
  return (value) => {
    if (typeof value !== "string" || !CANONICAL_INTEGER.test(value)) return undefined;
    const integer = BigInt(value);
    return integer >= min && integer <= max ? integer : undefined;
  };
}

function scalarConvert(field: DescField): Convert | undefined {
  if (field.fieldKind !== "scalar" || field.oneof !== undefined) return undefined;
  switch (field.scalar) {
    case ScalarType.STRING:
      return (value) => (typeof value === "string" ? value : undefined);
    case ScalarType.BOOL:
      return (value) => (typeof value === "boolean" ? value : undefined);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return integerConvert(INT64_MIN, INT64_MAX);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return integerConvert(0n, UINT64_MAX);
    default:
      return undefined;
  }
}

/** How often `token` occurs in `text`, counting no further than 2. */
function occurrences(text: string, token: string): number {
  const first = text.indexOf(token);
  if (first === -1) return 0;
  return text.indexOf(token, first + token.length) === -1 ? 1 : 2;
}

interface KeyedField {
  readonly localName: string;
  readonly number: number;
  readonly convert: Convert;
}

/**
 * The fast parse of a JSON request of type `schema`: the message, or undefined when the body
 * is outside the fast path (see the header).
 */
export function compileFromJson(schema: DescMessage): (text: string) => Message | undefined {
  const keys = new Map<string, KeyedField>();
  for (const field of schema.fields) {
    const convert = scalarConvert(field);
    if (convert === undefined) continue;
    const keyed = { localName: field.localName, number: field.number, convert };
    keys.set(field.jsonName, keyed);
    keys.set(field.name, keyed);
  }
  return (text) => {
    // Without a backslash, every '"' in the text opens or closes a string, so a key's quoted
    // form occurring once means it was given once; U+FFFD may stand for bytes that were not UTF-8.
    if (text.includes("\\") || text.includes("\uFFFD")) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const message = create(schema) as unknown as Record<string, unknown>;
    const given = new Set<number>();
    for (const [key, raw] of Object.entries(parsed)) {
      const field = keys.get(key);
      if (field === undefined || given.has(field.number) || occurrences(text, `"${key}"`) !== 1) return undefined;
      given.add(field.number);
      const value = field.convert(raw);
      if (value === undefined) return undefined;
      message[field.localName] = value;
    }
    return message as unknown as Message;
  };
}

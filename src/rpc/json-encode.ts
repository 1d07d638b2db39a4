/**
 * Protobuf JSON for the answers of the HTTP/1.1 lean path, built by closures compiled once per
 * message type instead of protobuf-es's reflection per call: `toJson` wraps every message and
 * field in reflection objects and checks each value, which made protobuf-es the largest single
 * cost of the HTTP/1.1 wallet (16% of the server's time, bench/README.md).
 *
 * The output is the JSON value protobuf-es's `toJson(schema, message, { alwaysEmitImplicit: true })`
 * makes, byte for byte once stringified: fields in field-number order, implicit fields always,
 * explicit ones (message fields, `optional`, oneof members) only when set, 64-bit integers as
 * decimal strings, enums by name (a number when unknown), bytes as padded base64, and
 * `google.protobuf.Timestamp` and `Duration` in their string forms. What the encoder does not
 * cover (other well-known types, maps with non-string keys, other options) is not compiled, and
 * any value protobuf-es would check and reject makes the whole message go through protobuf-es,
 * so its errors read the same. test/unit/json-encode.test.ts compares both on random messages of every
 * type the service answers with.
 */
import {
  ScalarType,
  toJson,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonValue,
  type JsonWriteOptions,
  type Message,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";

type AnyMessage = Record<string, unknown>;
type Convert = (value: unknown) => JsonValue;
type Encode = (message: AnyMessage) => Record<string, JsonValue> | string;

/** Thrown when a value is not what its field declares: protobuf-es then encodes (or rejects) it. */
class NotPlain extends Error {}
const NOT_PLAIN = new NotPlain();

const TIMESTAMP = "google.protobuf.Timestamp";
const TIMESTAMP_MIN_MS = Date.parse("0001-01-01T00:00:00Z");
const TIMESTAMP_MAX_MS = Date.parse("9999-12-31T23:59:59Z");
const NANOS_MAX = 999_999_999;

/** protobuf-es's RFC 3339 form: fractions of 3, 6 or 9 digits, none when zero. */
function timestampJson(message: AnyMessage): string {
  const { seconds, nanos } = message as { seconds: bigint; nanos: number };
  const ms = Number(seconds) * 1000;
  if (!(ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS) || !(nanos >= 0 && nanos <= NANOS_MAX)) throw NOT_PLAIN;
  let z = "Z";
  if (nanos > 0) {
    const digits = (nanos + 1_000_000_000).toString().substring(1);
    if (digits.endsWith("000000")) z = `.${digits.substring(0, 3)}Z`;
    else if (digits.endsWith("000")) z = `.${digits.substring(0, 6)}Z`;
    else z = `.${digits}Z`;
  }
  return new Date(ms).toISOString().replace(".000Z", z);
}

const DURATION = "google.protobuf.Duration";
const DURATION_SECONDS_MAX = 315_576_000_000;

/** protobuf-es's Duration form: seconds with 3, 6 or 9 fraction digits, and an "s". */
function durationJson(message: AnyMessage): string {
  const { seconds, nanos } = message as { seconds: bigint; nanos: number };
  const whole = Number(seconds);
  if (!(whole <= DURATION_SECONDS_MAX && whole >= -DURATION_SECONDS_MAX)) throw NOT_PLAIN;
  if ((whole > 0 && nanos < 0) || (whole < 0 && nanos > 0)) throw NOT_PLAIN;
  let text = seconds.toString();
  if (nanos !== 0) {
    let digits = Math.abs(nanos).toString();
    digits = "0".repeat(9 - digits.length) + digits;
    if (digits.substring(3) === "000000") digits = digits.substring(0, 3);
    else if (digits.substring(6) === "000") digits = digits.substring(0, 6);
    text += `.${digits}`;
    if (nanos < 0 && whole === 0) text = `-${text}`;
  }
  return `${text}s`;
}

function scalarConvert(scalar: ScalarType): Convert {
  switch (scalar) {
    case ScalarType.INT32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT32:
      return (value) => {
        if (typeof value !== "number") throw NOT_PLAIN;
        return value;
      };
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return (value) => {
        if (typeof value !== "number") throw NOT_PLAIN;
        if (Number.isNaN(value)) return "NaN";
        if (value === Number.POSITIVE_INFINITY) return "Infinity";
        if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
        return value;
      };
    case ScalarType.STRING:
      return (value) => {
        if (typeof value !== "string") throw NOT_PLAIN;
        return value;
      };
    case ScalarType.BOOL:
      return (value) => {
        if (typeof value !== "boolean") throw NOT_PLAIN;
        return value;
      };
    case ScalarType.BYTES:
      return (value) => {
        if (!(value instanceof Uint8Array)) throw NOT_PLAIN;
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
      };
    default:
      // The 64-bit integers.
      return (value) => {
        if (typeof value === "bigint" || typeof value === "string") return value.toString();
        if (typeof value === "number" && Number.isInteger(value)) return value.toString();
        throw NOT_PLAIN;
      };
  }
}

/** Compiles message types, sharing one encoder per type (so recursive types terminate). */
class Compiler {
  private readonly encoders = new Map<DescMessage, Encode | undefined>();

  message(desc: DescMessage): Encode | undefined {
    if (this.encoders.has(desc)) return this.encoders.get(desc);
    const wellKnown =
      desc.typeName === TIMESTAMP ? timestampJson : desc.typeName === DURATION ? durationJson : undefined;
    if (wellKnown !== undefined) {
      this.encoders.set(desc, wellKnown);
      return wellKnown;
    }
    if (desc.typeName.startsWith("google.protobuf.")) {
      this.encoders.set(desc, undefined);
      return undefined;
    }
    // Set before the fields are compiled: a field of this very type finds it here.
    const writers: ((message: AnyMessage, json: Record<string, JsonValue>) => void)[] = [];
    const encode: Encode = (message) => {
      const json: Record<string, JsonValue> = {};
      for (const write of writers) write(message, json);
      return json;
    };
    this.encoders.set(desc, encode);
    for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
      const write = this.field(field);
      if (write === undefined) {
        this.encoders.set(desc, undefined);
        return undefined;
      }
      writers.push(write);
    }
    return this.encoders.get(desc);
  }

  private field(field: DescField): ((message: AnyMessage, json: Record<string, JsonValue>) => void) | undefined {
    const convert = this.value(field);
    if (convert === undefined) return undefined;
    const { jsonName, localName } = field;
    if (field.oneof !== undefined) {
      const group = field.oneof.localName;
      return (message, json) => {
        const selected = message[group] as { case: string | undefined; value?: unknown };
        if (selected.case === localName) json[jsonName] = convert(selected.value);
      };
    }
    // Implicit fields (lists and maps among them) are always written (alwaysEmitImplicit);
    // explicit ones only when set. proto2's required fields are left to protobuf-es.
    if (field.presence === FeatureSet_FieldPresence.IMPLICIT) {
      return (message, json) => {
        json[jsonName] = convert(message[localName]);
      };
    }
    if (field.presence !== FeatureSet_FieldPresence.EXPLICIT) return undefined;
    return (message, json) => {
      const value = message[localName];
      if (value !== undefined) json[jsonName] = convert(value);
    };
  }

  private value(field: DescField): Convert | undefined {
    switch (field.fieldKind) {
      case "scalar":
        return scalarConvert(field.scalar);
      case "enum":
        return this.enumValue(field.enum);
      case "message":
        return this.messageValue(field.message);
      case "list": {
        const item = this.element(field.scalar, field.enum, field.message);
        if (item === undefined) return undefined;
        return (value) => {
          if (!Array.isArray(value)) throw NOT_PLAIN;
          return value.map(item);
        };
      }
      case "map": {
        if (field.mapKey !== ScalarType.STRING) return undefined;
        const entry = this.element(field.scalar, field.enum, field.message);
        if (entry === undefined) return undefined;
        return (value) => {
          if (typeof value !== "object" || value === null) throw NOT_PLAIN;
          const json: Record<string, JsonValue> = {};
          for (const key of Object.keys(value)) json[key] = entry((value as Record<string, unknown>)[key]);
          return json;
        };
      }
    }
  }

  /** A list's items or a map's values: scalars, enums or messages, whichever the field holds. */
  private element(
    scalar: ScalarType | undefined,
    enumDesc: DescEnum | undefined,
    message: DescMessage | undefined,
  ): Convert | undefined {
    if (scalar !== undefined) return scalarConvert(scalar);
    if (enumDesc !== undefined) return this.enumValue(enumDesc);
    return message === undefined ? undefined : this.messageValue(message);
  }

  private enumValue(desc: DescEnum): Convert | undefined {
    if (desc.typeName === "google.protobuf.NullValue") return undefined;
    const names = new Map(desc.values.map((value) => [value.number, value.name]));
    return (value) => {
      if (typeof value !== "number") throw NOT_PLAIN;
      return names.get(value) ?? value;
    };
  }

  private messageValue(desc: DescMessage): Convert | undefined {
    if (this.message(desc) === undefined) return undefined;
    // Looked up per call: while a recursive type is being compiled, its encoder is not final (and
    // if a field of it later proved beyond the encoder, protobuf-es takes the message).
    return (value) => {
      const encode = this.encoders.get(desc);
      if (encode === undefined || typeof value !== "object" || value === null) throw NOT_PLAIN;
      return encode(value as AnyMessage);
    };
  }
}

const compiler = new Compiler();
/** One function per type: every options object `supported` accepts gives the same JSON. */
const compiled = new Map<DescMessage, ((message: Message) => JsonValue) | undefined>();

/** Whether the lean encoder gives what protobuf-es would with these options. */
function supported(options: Partial<JsonWriteOptions> | undefined): boolean {
  return (
    options?.alwaysEmitImplicit === true &&
    options.enumAsInteger !== true &&
    options.useProtoFieldName !== true &&
    options.registry === undefined
  );
}

/**
 * A function with the result of `toJson(schema, message, options)`, faster; undefined when the
 * type or the options are beyond it, so that the caller keeps protobuf-es for them.
 */
export function compileToJson<Desc extends DescMessage>(
  schema: Desc,
  options: Partial<JsonWriteOptions> | undefined,
): ((message: Message) => JsonValue) | undefined {
  if (!supported(options)) return undefined;
  if (compiled.has(schema)) return compiled.get(schema);
  const encode = compiler.message(schema);
  const json =
    encode &&
    ((message: Message): JsonValue => {
      try {
        return encode(message);
      } catch (error) {
        if (!(error instanceof NotPlain)) throw error;
        return toJson(schema, message as MessageShape<Desc>, options);
      }
    });
  compiled.set(schema, json);
  return json;
}

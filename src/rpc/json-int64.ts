/**
 * The one rule for 64-bit integers in request JSON, on every protocol that carries JSON:
 * a JSON string of `-?[0-9]+`, or a JSON number that is a safe integer (|n| ≤ 2^53 − 1).
 *
 * protobuf-es follows the proto3 JSON mapping leniently: `JSON.parse` has already rounded
 * `9007199254740993` to `…992` before it looks, and `BigInt()` reads `"0x10"` as 16 and `" 7"`
 * as 7. For money that means a request credited with another amount than the one written, and a
 * retry in another spelling replayed as the same request. So the raw JSON text is checked here,
 * before protobuf-es parses it, with a parser that keeps every number as written.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { isJsonArray, isJsonObject, JsonNumber, parseExactJson, type JsonValue } from "../ingest/exact-json.js";
import type { FieldViolation } from "../domain/validate.js";

const INT64_SCALARS = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
const DIGITS = /^-?[0-9]+$/;
/** Nested messages followed at most this deep: our requests are flat; this bounds hostile input. */
const DEPTH_MAX = 32;

/** True for a field of a 64-bit integer type, or a list of them. */
export function isInt64Field(field: DescField): boolean {
  if (field.fieldKind === "scalar") return INT64_SCALARS.has(field.scalar);
  return field.fieldKind === "list" && field.listKind === "scalar" && INT64_SCALARS.has(field.scalar);
}

/** The rule for an int64 given as text outside JSON (a REST path or query value): digits only. */
export function isInt64Text(text: string): boolean {
  return DIGITS.test(text);
}

/** The violation for a field whose int64 value breaks the rule. */
export function int64Violation(field: string): FieldViolation {
  return violation(field);
}

function isInt64Json(value: JsonValue): boolean {
  if (typeof value === "string") return DIGITS.test(value);
  if (value instanceof JsonNumber) return DIGITS.test(value.text) && Number.isSafeInteger(Number(value.text));
  return false;
}

function violation(field: string): FieldViolation {
  return {
    field,
    reason: "INVALID_FORMAT",
    description: `${field} must be a JSON string of digits ("-?[0-9]+") or a JSON number that is a safe integer (at most 2^53-1)`,
  };
}

/**
 * The int64 fields of `text` (a request of type `schema`) that break the rule. Text that is not
 * JSON is left to protobuf-es, which refuses it with its own message.
 */
export function int64JsonViolations(schema: DescMessage, text: string): FieldViolation[] {
  let parsed: JsonValue;
  try {
    parsed = parseExactJson(text);
  } catch {
    return [];
  }
  const violations: FieldViolation[] = [];
  check(schema, parsed, "", violations, 0);
  return violations;
}

function check(
  schema: DescMessage,
  value: JsonValue,
  prefix: string,
  violations: FieldViolation[],
  depth: number,
): void {
  if (!isJsonObject(value) || depth > DEPTH_MAX) return;
  for (const field of schema.fields) {
    const raw = value.fields.get(field.jsonName) ?? value.fields.get(field.name);
    if (raw === undefined || raw === null) continue;
    const path = `${prefix}${field.name}`;
    if (field.fieldKind === "scalar" && INT64_SCALARS.has(field.scalar)) {
      if (!isInt64Json(raw)) violations.push(violation(path));
    } else if (field.fieldKind === "list" && field.listKind === "scalar" && INT64_SCALARS.has(field.scalar)) {
      if (isJsonArray(raw) && !raw.items.every(isInt64Json)) violations.push(violation(path));
    } else if (field.fieldKind === "message") {
      check(field.message, raw, `${path}.`, violations, depth + 1);
    }
  }
}

/**
 * Builds an RPC's request, as proto JSON, from a REST call per the google.api.http rules: path
 * variables set their fields, the body fills the whole message (`body: "*"`) or one field, and
 * query parameters (`?currency=USD&page_size=10`, proto or JSON names, dotted for nested fields)
 * set what neither binds. Path values win over the body. Everything this cannot place is refused
 * with the field named; type checks are left to the RPC's own JSON parsing, so REST and Connect
 * accept exactly the same values.
 */
import { ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { FieldViolation } from "../../domain/validate.js";
import { int64JsonViolations, int64Violation, isInt64Field, isInt64Text } from "../json-int64.js";
import type { RestRoute } from "./rest-routes.js";

export type RestRequest =
  | { readonly ok: true; readonly json: JsonObject }
  | { readonly ok: false; readonly violations: readonly FieldViolation[] };

/** Largest integer a JSON number may carry exactly; int64 values past it must be strings. */
const SAFE_INTEGER_MAX = Number.MAX_SAFE_INTEGER;

/** The RPC request for a matched route, or the violations that make the call unusable. */
export function buildRestRequest(
  route: RestRoute,
  pathValues: ReadonlyMap<string, string>,
  query: URLSearchParams,
  bodyText: string,
): RestRequest {
  const violations: FieldViolation[] = [];
  let json: JsonObject = {};
  if (route.body !== "") {
    const violationsBefore = violations.length;
    const body = parseBody(bodyText, violations);
    // The same int64 rule as Connect JSON, read from the body's text before JSON.parse rounds it
    // (a body already refused, an unsafe number among others, is not named twice).
    if (body !== undefined && route.body === "*" && violations.length === violationsBefore) {
      violations.push(...int64JsonViolations(route.method.input, bodyText));
    }
    if (route.body === "*") {
      if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
        violations.push({ field: "body", reason: "INVALID_FORMAT", description: "the body must be a JSON object" });
      } else if (body !== undefined) {
        json = body;
      }
    } else if (body !== undefined) {
      const field = route.method.input.fields.find((candidate) => candidate.name === route.body);
      if (field !== undefined) json[field.jsonName] = body;
    }
  }
  for (const [key] of new Map(query)) {
    const values = query.getAll(key);
    const target = resolveField(route.method.input, key);
    if (route.body === "*") {
      violations.push({
        field: key,
        reason: "NOT_ALLOWED",
        description: "query parameters are not accepted here: the body carries the request",
      });
    } else if (target === undefined) {
      violations.push({
        field: key,
        reason: "UNKNOWN_FIELD",
        description: `no such field in ${route.method.input.typeName}`,
      });
    } else if (pathValues.has(target.protoPath) || target.protoPath.split(".")[0] === route.body) {
      violations.push({
        field: key,
        reason: "NOT_ALLOWED",
        description: "this field is set by the path or the body, not the query",
      });
    } else if (!target.repeated && values.length > 1) {
      violations.push({ field: key, reason: "REPEATED", description: "this field takes one value, got several" });
    } else if (isInt64Field(target.leaf) && !values.every(isInt64Text)) {
      violations.push(int64Violation(target.protoPath));
    } else {
      setField(
        json,
        target,
        target.repeated
          ? values.map((value) => scalarJson(target.leaf, value))
          : scalarJson(target.leaf, values[0] ?? ""),
      );
    }
  }
  for (const [fieldPath, value] of pathValues) {
    const target = resolveField(route.method.input, fieldPath);
    // The route table was checked against the descriptors at start-up; a miss is a proto bug.
    if (target === undefined || target.repeated)
      throw new Error(`${route.template.text}: {${fieldPath}} is not a scalar field`);
    setField(json, target, scalarJson(target.leaf, value));
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, json };
}

function parseBody(text: string, violations: FieldViolation[]): JsonValue | undefined {
  if (text.trim() === "") return undefined;
  let unsafe = false;
  try {
    const value = JSON.parse(text, (_key, item: unknown) => {
      if (typeof item === "number" && Number.isInteger(item) && Math.abs(item) > SAFE_INTEGER_MAX) unsafe = true;
      return item;
    }) as JsonValue;
    if (unsafe) {
      violations.push({
        field: "body",
        reason: "UNSAFE_NUMBER",
        description: "a number above 2^53 cannot be read exactly: send int64 values as JSON strings",
      });
    }
    return value;
  } catch {
    violations.push({ field: "body", reason: "INVALID_JSON", description: "the body is not valid JSON" });
    return undefined;
  }
}

interface FieldTarget {
  /** The JSON keys from the request message down to the field. */
  readonly jsonPath: readonly string[];
  /** The proto names, dotted: how path templates name fields. */
  readonly protoPath: string;
  readonly leaf: DescField;
  readonly repeated: boolean;
}

/** Finds a dotted field path (proto or JSON names) that ends in a scalar or enum field. */
function resolveField(message: DescMessage, path: string): FieldTarget | undefined {
  const jsonPath: string[] = [];
  const protoPath: string[] = [];
  let current: DescMessage | undefined = message;
  const names = path.split(".");
  for (const [index, name] of names.entries()) {
    const field: DescField | undefined = current?.fields.find(
      (candidate) => candidate.name === name || candidate.jsonName === name,
    );
    if (field === undefined) return undefined;
    jsonPath.push(field.jsonName);
    protoPath.push(field.name);
    const last = index === names.length - 1;
    if (last) {
      if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
        return { jsonPath, protoPath: protoPath.join("."), leaf: field, repeated: false };
      }
      if (field.fieldKind === "list" && field.listKind !== "message") {
        return { jsonPath, protoPath: protoPath.join("."), leaf: field, repeated: true };
      }
      return undefined;
    }
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return undefined;
}

function setField(json: JsonObject, target: FieldTarget, value: JsonValue): void {
  let node = json;
  for (const key of target.jsonPath.slice(0, -1)) {
    const child = node[key];
    node = typeof child === "object" && child !== null && !Array.isArray(child) ? child : (node[key] = {});
  }
  // The body may have named the field by its proto name; the later value must not meet a twin.
  delete node[target.leaf.name];
  node[target.leaf.jsonName] = value;
}

/** A text from a path or query as proto JSON: the RPC's JSON parser then checks its type. */
function scalarJson(field: DescField, text: string): JsonValue {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum" && /^-?[0-9]+$/.test(text)) return Number(text);
  if (kind === "scalar" && field.scalar === ScalarType.BOOL)
    return text === "true" ? true : text === "false" ? false : text;
  return text;
}

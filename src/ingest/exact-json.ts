/**
 * A small JSON parser that keeps every number as the text the vendor sent.
 *
 * `JSON.parse` turns `19.99` into the nearest double before any reviver sees it (Node 20 has no
 * `context.source`), and a double cannot hold most decimal amounts exactly. Parsing the body
 * ourselves lets `decimal.ts` convert the literal digits, and lets a quarantined row keep its
 * raw text byte for byte. The grammar is RFC 8259; anything else throws `JsonSyntaxError`.
 */

/** A JSON number as written: convert it with `decimalToMinor`, never with `Number`. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export interface JsonObject {
  readonly kind: "object";
  readonly fields: ReadonlyMap<string, JsonValue>;
  /** Keys that appeared more than once: such an object is ambiguous, so callers refuse it. */
  readonly duplicateKeys: readonly string[];
}

export interface JsonArray {
  readonly kind: "array";
  readonly items: readonly JsonValue[];
  /** The source text of each item, exactly as it appeared in the body. */
  readonly sources: readonly string[];
}

export type JsonValue = null | boolean | string | JsonNumber | JsonArray | JsonObject;

export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
}

/** Deepest nesting accepted: a vendor page is three levels deep, so this only stops abuse. */
const DEPTH_MAX = 32;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

export function parseExactJson(text: string): JsonValue {
  const parser = new Parser(text);
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.position !== text.length) parser.fail("unexpected text after the value");
  return value;
}

class Parser {
  position = 0;

  constructor(private readonly text: string) {}

  fail(message: string): never {
    throw new JsonSyntaxError(`${message} at offset ${this.position}`);
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.position;
    WHITESPACE.exec(this.text);
    this.position = WHITESPACE.lastIndex;
  }

  value(depth: number): JsonValue {
    if (depth > DEPTH_MAX) this.fail("nesting too deep");
    this.skipWhitespace();
    const char = this.text[this.position];
    if (char === "{") return this.object(depth);
    if (char === "[") return this.array(depth);
    if (char === '"') return this.string();
    if (this.literal("true")) return true;
    if (this.literal("false")) return false;
    if (this.literal("null")) return null;
    return this.number();
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.position)) return false;
    this.position += word.length;
    return true;
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail("expected a value");
    this.position = NUMBER.lastIndex;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    const start = this.position;
    let index = start + 1;
    for (;;) {
      const char = this.text[index];
      if (char === undefined) this.fail("unterminated string");
      if (char === '"') break;
      index += char === "\\" ? 2 : 1;
    }
    this.position = index + 1;
    try {
      // The token is now delimited; JSON.parse validates escapes and control characters exactly.
      return JSON.parse(this.text.slice(start, this.position)) as string;
    } catch {
      return this.fail("invalid string");
    }
  }

  private array(depth: number): JsonArray {
    this.position += 1;
    const items: JsonValue[] = [];
    const sources: string[] = [];
    this.skipWhitespace();
    if (this.text[this.position] === "]") {
      this.position += 1;
      return { kind: "array", items, sources };
    }
    for (;;) {
      this.skipWhitespace();
      const start = this.position;
      items.push(this.value(depth + 1));
      sources.push(this.text.slice(start, this.position));
      this.skipWhitespace();
      const char = this.text[this.position];
      this.position += 1;
      if (char === "]") return { kind: "array", items, sources };
      if (char !== ",") this.fail("expected , or ]");
    }
  }

  private object(depth: number): JsonObject {
    this.position += 1;
    const fields = new Map<string, JsonValue>();
    const duplicateKeys: string[] = [];
    this.skipWhitespace();
    if (this.text[this.position] === "}") {
      this.position += 1;
      return { kind: "object", fields, duplicateKeys };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] !== '"') this.fail("expected a key");
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.position] !== ":") this.fail("expected :");
      this.position += 1;
      if (fields.has(key)) duplicateKeys.push(key);
      fields.set(key, this.value(depth + 1));
      this.skipWhitespace();
      const char = this.text[this.position];
      this.position += 1;
      if (char === "}") return { kind: "object", fields, duplicateKeys };
      if (char !== ",") this.fail("expected , or }");
    }
  }
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !(value instanceof JsonNumber) && value.kind === "object";
}

export function isJsonArray(value: JsonValue | undefined): value is JsonArray {
  return typeof value === "object" && value !== null && !(value instanceof JsonNumber) && value.kind === "array";
}

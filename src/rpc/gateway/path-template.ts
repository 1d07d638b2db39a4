/**
 * google.api.http path templates (`/v1/users/{user_id}:load`, `/v1/{name=shelves/*}/books/**`):
 * parsed once at start-up, then matched against request paths.
 *
 * The grammar is the one grpc-gateway and Envoy's transcoder follow:
 *   Template = "/" Segments [ Verb ] ; Segments = Segment { "/" Segment } ;
 *   Segment = "*" | "**" | LITERAL | Variable ; Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * A variable without "=" matches one segment. `**` matches the rest of the path and may only
 * come last. A value that spans one segment is fully percent-decoded; one that spans several
 * keeps "%2F" so the caller can still tell a slash in a value from a separator.
 */

type SegmentMatcher =
  { readonly kind: "literal"; readonly text: string } | { readonly kind: "one" } | { readonly kind: "rest" };

interface Variable {
  /** The field path, dotted: `user_id`, `account.user_id`. */
  readonly fieldPath: string;
  readonly start: number;
  /** One past the last segment, or undefined when the variable ends in `**`. */
  readonly end: number | undefined;
}

export interface PathTemplate {
  readonly text: string;
  readonly segments: readonly SegmentMatcher[];
  readonly variables: readonly Variable[];
  readonly verb: string | undefined;
}

export class PathTemplateError extends Error {
  override readonly name = "PathTemplateError";
}

/** Why a path that matched a template's shape still cannot be used: a bad percent-encoding. */
export class PathValueError extends Error {
  override readonly name = "PathValueError";
}

/** Parses a template at start-up; a malformed one throws `PathTemplateError`, so it never serves. */
export function parsePathTemplate(text: string): PathTemplate {
  if (!text.startsWith("/")) throw new PathTemplateError(`path template ${text} must start with /`);
  // The verb is a ":" after the last "/" and outside braces.
  const lastSlash = text.lastIndexOf("/");
  const lastBrace = text.lastIndexOf("}");
  const colon = text.indexOf(":", Math.max(lastSlash, lastBrace));
  const verb = colon > 0 ? text.slice(colon + 1) : undefined;
  const body = colon > 0 ? text.slice(1, colon) : text.slice(1);
  const segments: SegmentMatcher[] = [];
  const variables: Variable[] = [];
  for (const token of tokenize(body, text)) {
    if (token.startsWith("{")) {
      const inner = token.slice(1, -1);
      const equals = inner.indexOf("=");
      const fieldPath = equals < 0 ? inner : inner.slice(0, equals);
      if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(fieldPath)) {
        throw new PathTemplateError(`path template ${text}: bad field path "${fieldPath}"`);
      }
      const start = segments.length;
      const pattern = equals < 0 ? ["*"] : inner.slice(equals + 1).split("/");
      for (const part of pattern) segments.push(matcher(part, text));
      const endsInRest = segments[segments.length - 1]?.kind === "rest";
      variables.push({ fieldPath, start, end: endsInRest ? undefined : segments.length });
    } else {
      segments.push(matcher(token, text));
    }
  }
  if (segments.slice(0, -1).some((segment) => segment.kind === "rest")) {
    throw new PathTemplateError(`path template ${text}: ** may only be the last segment`);
  }
  return { text, segments, variables, verb };
}

/** The variables' values when `path` (no query string) matches, else undefined. */
export function matchPathTemplate(template: PathTemplate, path: string): Map<string, string> | undefined {
  let rest = path;
  if (template.verb !== undefined) {
    if (!rest.endsWith(`:${template.verb}`)) return undefined;
    rest = rest.slice(0, -template.verb.length - 1);
  }
  if (!rest.startsWith("/")) return undefined;
  const parts = rest.slice(1).split("/");
  const last = template.segments[template.segments.length - 1];
  const hasRest = last?.kind === "rest";
  if (hasRest ? parts.length < template.segments.length - 1 : parts.length !== template.segments.length)
    return undefined;
  for (const [index, segment] of template.segments.entries()) {
    const part = parts[index];
    if (segment.kind === "rest") break;
    if (part === undefined || part === "") return undefined;
    if (segment.kind === "literal" && decode(part, true) !== segment.text) return undefined;
  }
  const values = new Map<string, string>();
  for (const variable of template.variables) {
    const taken = parts.slice(variable.start, variable.end);
    const single = variable.end !== undefined && variable.end - variable.start === 1;
    values.set(
      variable.fieldPath,
      single ? decode(taken[0] ?? "", true) : taken.map((part) => decode(part, false)).join("/"),
    );
  }
  return values;
}

function tokenize(body: string, text: string): string[] {
  const tokens: string[] = [];
  let index = 0;
  while (index < body.length) {
    if (body[index] === "{") {
      const close = body.indexOf("}", index);
      if (close < 0) throw new PathTemplateError(`path template ${text}: unclosed {`);
      tokens.push(body.slice(index, close + 1));
      index = close + 1;
    } else {
      const slash = body.indexOf("/", index);
      const end = slash < 0 ? body.length : slash;
      tokens.push(body.slice(index, end));
      index = end;
    }
    if (index < body.length) {
      if (body[index] !== "/") throw new PathTemplateError(`path template ${text}: expected / at ${index + 1}`);
      index += 1;
    }
  }
  return tokens;
}

function matcher(part: string, text: string): SegmentMatcher {
  if (part === "*") return { kind: "one" };
  if (part === "**") return { kind: "rest" };
  if (part === "" || /[{}*]/.test(part)) throw new PathTemplateError(`path template ${text}: bad segment "${part}"`);
  return { kind: "literal", text: part };
}

function decode(part: string, slashToo: boolean): string {
  try {
    return slashToo ? decodeURIComponent(part) : decodeURIComponent(part.replace(/%2F/gi, "%252F"));
  } catch {
    throw new PathValueError(`path segment "${part}" is not valid percent-encoding`);
  }
}

/**
 * The OpenAPI operations of the seed-compatible routes. They are served by GET /openapi.json
 * beside the proto's REST routes, but only for the profiles LEDGER_COMPAT turns on: the document
 * describes what this server answers, not what it could. The shapes are the seeds' own (amounts in
 * major units, their error bodies), so they are written here rather than generated from the proto.
 */
import type { CompatProfile } from "./profile-names.js";

/** A JSON Schema fragment, as OpenAPI 3.1 embeds it. */
type Schema = Readonly<Record<string, unknown>>;

export interface CompatOperation {
  readonly summary: string;
  readonly description: string;
  /** The JSON request body's schema, for routes that take one. */
  readonly body?: Schema;
  /** HTTP status → what it means and the JSON body's schema. */
  readonly responses: Readonly<Record<string, { readonly description: string; readonly schema: Schema }>>;
}

export const text: Schema = { type: "string" };

/** Major units, written from the exact decimal: a JSON number with the currency's decimals. */
export const majorNumber: Schema = { type: "number", description: "major units, the exact decimal of the minor units" };

export function object(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
}

interface DescribedRoute {
  readonly method: string;
  readonly path: string;
  readonly doc: CompatOperation;
}

/**
 * `document` with the operations of `routes` added to its paths, each tagged with its profile.
 * Express-style `:name` segments become OpenAPI `{name}` path parameters.
 */
export function withCompatOperations(
  document: unknown,
  routes: readonly (DescribedRoute & { readonly profile: CompatProfile })[],
): unknown {
  if (routes.length === 0) return document;
  const base = document as { paths?: Record<string, Record<string, unknown>> };
  const paths: Record<string, Record<string, unknown>> = { ...base.paths };
  for (const route of routes) {
    const segments = route.path.split("/");
    const parameters = segments
      .filter((segment) => segment.startsWith(":"))
      .map((segment) => ({ name: segment.slice(1), in: "path", required: true, schema: text }));
    const path = segments.map((segment) => (segment.startsWith(":") ? `{${segment.slice(1)}}` : segment)).join("/");
    const { summary, description, body, responses } = route.doc;
    paths[path] = {
      ...paths[path],
      [route.method.toLowerCase()]: {
        operationId: `compat_${route.profile}_${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+/g, "_")}`,
        tags: [`compat: ${route.profile}`],
        summary,
        description: `${description}\n\nServed when LEDGER_COMPAT includes \`${route.profile}\`.`,
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(body === undefined
          ? {}
          : { requestBody: { required: true, content: { "application/json": { schema: body } } } }),
        responses: Object.fromEntries(
          Object.entries(responses).map(([status, { description: meaning, schema }]) => [
            status,
            { description: meaning, content: { "application/json": { schema } } },
          ]),
        ),
      },
    };
  }
  return { ...base, paths };
}

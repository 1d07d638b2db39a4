/**
 * The REST route table, read from the `google.api.http` options in the generated descriptors at
 * start-up: adding an RPC with an annotation adds its route, with no gateway code.
 */
import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { parsePathTemplate, type PathTemplate } from "./path-template.js";

export interface RestRoute {
  /** Upper-case HTTP method: GET, POST, PUT, DELETE, PATCH, or a custom verb. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  readonly method: DescMethod;
  /** "" (no body), "*" (the whole request message) or a top-level field name. */
  readonly body: string;
  /** "" (the whole response message) or a top-level field name of the response. */
  readonly responseBody: string;
}

/** Every annotated unary method's routes, its additional bindings included, in proto order. */
export function restRoutes(services: readonly DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary" || !hasOption(method, http)) continue;
      const rule = getOption(method, http);
      for (const binding of [rule, ...rule.additionalBindings]) routes.push(toRoute(method, binding));
    }
  }
  return routes;
}

function toRoute(method: DescMethod, rule: HttpRule): RestRoute {
  const { pattern } = rule;
  let httpMethod: string;
  let path: string;
  switch (pattern.case) {
    case "custom":
      httpMethod = pattern.value.kind.toUpperCase();
      path = pattern.value.path;
      break;
    case undefined:
      throw new Error(`${method.parent.typeName}/${method.name}: google.api.http rule without a pattern`);
    default:
      httpMethod = pattern.case.toUpperCase();
      path = pattern.value;
  }
  const template = parsePathTemplate(path);
  const name = `${method.parent.typeName}/${method.name}`;
  if (rule.body !== "" && rule.body !== "*" && method.input.fields.every((field) => field.name !== rule.body)) {
    throw new Error(`${name}: body "${rule.body}" is not a field of ${method.input.typeName}`);
  }
  if (rule.responseBody !== "" && method.output.fields.every((field) => field.name !== rule.responseBody)) {
    throw new Error(`${name}: response_body "${rule.responseBody}" is not a field of ${method.output.typeName}`);
  }
  return { httpMethod, template, method, body: rule.body, responseBody: rule.responseBody };
}

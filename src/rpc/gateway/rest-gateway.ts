/**
 * The REST side of the port: routes declared by `google.api.http` in the proto
 * (`GET /v1/users/{user_id}/balances`, `POST /v1/users/{user_id}:load`), each turned into its
 * RPC's request and answered with Connect's JSON response or error, status included.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { internalError, toConnectError } from "../errors.js";
import type { FieldViolation } from "../../domain/validate.js";
import { callerGoneSignal, readBodyText, sendReply, type HttpRequest, type HttpResponse } from "./http-io.js";
import { matchPathTemplate, PathValueError } from "./path-template.js";
import { buildRestRequest } from "./rest-request.js";
import type { RestRoute } from "./rest-routes.js";
import { headersOf, type RpcInvoker, type RpcReply } from "./rpc-invoker.js";

/** Serves the REST routes; one instance per server, built from the route table at start-up. */
export class RestGateway {
  constructor(
    private readonly routes: readonly RestRoute[],
    private readonly invoker: RpcInvoker,
    private readonly readMaxBytes: number,
    /** Reports a bug in this code; the caller gets a bare INTERNAL, as from the interceptor. */
    private readonly onBug: (error: unknown) => void,
  ) {}

  /** Serves the request when a route's path matches, and says whether it did. */
  handle(request: HttpRequest, response: HttpResponse): boolean {
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    const query = new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1));
    let matched: { route: RestRoute; values: Map<string, string> } | undefined;
    const allowed: string[] = [];
    try {
      for (const route of this.routes) {
        const values = matchPathTemplate(route.template, path);
        if (values === undefined) continue;
        allowed.push(route.httpMethod);
        if (route.httpMethod === request.method) {
          matched = { route, values };
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof PathValueError)) throw error;
      sendReply(response, this.invalid([{ field: "path", reason: "INVALID_FORMAT", description: error.message }]));
      return true;
    }
    if (matched === undefined && allowed.length === 0) return false;
    if (matched === undefined) {
      const refusal = new ConnectError(
        `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`,
        Code.Unimplemented,
      );
      const reply = this.invoker.errorReply(refusal);
      reply.header.set("allow", allowed.join(", "));
      sendReply(response, { ...reply, status: 405 });
      return true;
    }
    const { route, values } = matched;
    this.serve(route, values, query, request, response).catch((error: unknown) => {
      this.onBug(error);
      sendReply(response, this.invoker.errorReply(internalError()));
    });
    return true;
  }

  private async serve(
    route: RestRoute,
    values: Map<string, string>,
    query: URLSearchParams,
    request: HttpRequest,
    response: HttpResponse,
  ): Promise<void> {
    const signal = callerGoneSignal(response);
    const body = await readBodyText(request, this.readMaxBytes);
    if (!body.ok) {
      if (body.reason === "too_large") {
        const message = `the request body exceeds ${this.readMaxBytes} bytes`;
        sendReply(response, this.invoker.errorReply(new ConnectError(message, Code.ResourceExhausted)));
      }
      return;
    }
    const built = buildRestRequest(route, values, query, route.body === "" ? "" : body.text);
    if (!built.ok) {
      sendReply(response, this.invalid(built.violations));
      return;
    }
    const reply = await this.invoker.invoke(route.method, built.json, headersOf(request.headers), signal);
    sendReply(response, route.responseBody === "" || reply.status !== 200 ? reply : pickField(reply, route));
  }

  private invalid(violations: readonly FieldViolation[]): RpcReply {
    return this.invoker.errorReply(toConnectError({ kind: "invalid_argument", violations }));
  }
}

/** The reply with only the response field the rule's response_body names. */
function pickField(reply: RpcReply, route: RestRoute): RpcReply {
  const field = route.method.output.fields.find((candidate) => candidate.name === route.responseBody);
  const json = JSON.parse(Buffer.from(reply.body).toString("utf8")) as Record<string, unknown>;
  const body = Buffer.from(JSON.stringify(field === undefined ? null : (json[field.jsonName] ?? null)));
  return { ...reply, body };
}

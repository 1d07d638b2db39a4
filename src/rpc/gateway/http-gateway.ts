/**
 * Everything the port serves over plain HTTP besides the Connect, gRPC-Web and gRPC protocols:
 * the REST routes of the proto's `google.api.http` annotations, the seeds' compatible routes
 * (only the profiles LEDGER_COMPAT turns on), and the OpenAPI description at GET /openapi.json.
 * `server.ts` mounts it in connect-node's fallback, so it sees only what Connect did not take.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Logger } from "../../logger.js";
import { openapiDocument } from "../../../gen/ledger/v1/ledger_openapi.js";
import { compatRoutes, withCompatRoutes, type CompatProfile } from "../compat/profiles.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./http-io.js";
import { RestGateway } from "./rest-gateway.js";
import { restRoutes } from "./rest-routes.js";
import { RpcInvoker } from "./rpc-invoker.js";

export interface HttpGatewayOptions {
  /** The same route registration the Connect adapter uses, so both serve one implementation. */
  readonly routes: (router: ConnectRouter) => void;
  /** The same interceptors, JSON options, limits and shutdown signal as the Connect adapter. */
  readonly routerOptions: ConnectRouterOptions & { readonly readMaxBytes: number };
  /** The services whose annotated methods become REST routes. */
  readonly services: readonly DescService[];
  /** LEDGER_COMPAT: the seed profiles to serve; none by default. */
  readonly compat: readonly CompatProfile[];
  /** The currency of compat calls that name none: LEDGER_DEFAULT_CURRENCY. */
  readonly defaultCurrency: string;
  /** Where a bug in the gateway's own code is reported; the caller sees a bare INTERNAL. */
  readonly logger: Logger;
}

/** A handler that serves what it knows and returns false for the rest (a 404 is the caller's). */
export type HttpGateway = (request: HttpRequest, response: HttpResponse) => boolean;

export function createHttpGateway(options: HttpGatewayOptions): HttpGateway {
  const invoker = new RpcInvoker(options.routes, options.routerOptions);
  const onBug = (error: unknown) => options.logger.error({ err: error }, "HTTP gateway failed unexpectedly");
  const rest = new RestGateway(restRoutes(options.services), invoker, options.routerOptions.readMaxBytes, onBug);
  const compat = compatRoutes(options.compat, {
    invoker,
    readMaxBytes: options.routerOptions.readMaxBytes,
    defaultCurrency: options.defaultCurrency,
    onBug,
  });
  const openapi = withCompatRoutes(openapiDocument, options.compat);
  return (request, response) => {
    if (request.method === "GET" && request.url?.split("?")[0] === "/openapi.json") {
      sendJson(response, 200, openapi);
      return true;
    }
    return compat(request, response) || rest.handle(request, response);
  };
}

/**
 * `GET /metrics`: the Prometheus text format. The figures name methods, rates and the poller's
 * state, which is for operators, so the endpoint asks for an `admin` key under the same rule as
 * every RPC and as `/healthz/details` (with authentication off, the whole service is open and
 * loopback-only, and so is this). `LEDGER_METRICS_OPEN=loopback` lets a scraper on this machine
 * in without a key: it trusts the socket's peer address only, and a request that says it was
 * forwarded (`Forwarded`, `X-Forwarded-For`) came through a proxy, so it still needs the key.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { isLoopbackHost } from "../secure-defaults.js";
import type { ApiKeyring } from "./api-keys.js";
import { checkCall } from "./auth.js";

type FallbackArguments = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>;

/** The path Prometheus scrapes by default. */
export const METRICS_PATH = "/metrics";

/** What GET /metrics counts as for authorization: not in the scope table, so `admin`. */
const METRICS_METHOD = "ledger.v1.Operations/Metrics";

/** LEDGER_METRICS_OPEN: `none` (default) needs an admin key; `loopback` lets local scrapers in without one. */
export type MetricsOpen = "none" | "loopback";

export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsEndpointOptions {
  readonly source: MetricsSource;
  /** `null` when authentication is off. */
  readonly keyring: ApiKeyring | null;
  readonly open: MetricsOpen;
  /** Told when rendering fails; the caller gets a bare 500. */
  readonly onError: (error: unknown) => void;
}

/** Whether the caller may read the metrics: `null` if so, else the HTTP status and message. */
export function authorizeMetrics(
  options: Pick<MetricsEndpointOptions, "keyring" | "open">,
  remoteAddress: string | undefined,
  headers: IncomingHttpHeaders,
): { status: 401 | 403; message: string } | null {
  if (options.open === "loopback" && isLocalScraper(remoteAddress, headers)) return null;
  const decision = checkCall(options.keyring, METRICS_METHOD, headers.authorization);
  if (decision.ok) return null;
  return { status: decision.code === "unauthenticated" ? 401 : 403, message: decision.message };
}

function isLocalScraper(remoteAddress: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (remoteAddress === undefined || !isLoopbackHost(remoteAddress)) return false;
  return headers.forwarded === undefined && headers["x-forwarded-for"] === undefined;
}

export async function serveMetrics(
  options: MetricsEndpointOptions,
  request: FallbackArguments[0],
  response: FallbackArguments[1],
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendError(request, response, 405, "method not allowed", { allow: "GET, HEAD" });
    return;
  }
  const refusal = authorizeMetrics(options, request.socket.remoteAddress, request.headers);
  if (refusal !== null) {
    sendError(request, response, refusal.status, refusal.message);
    return;
  }
  let body: string;
  try {
    body = await options.source.render();
  } catch (error) {
    // A collector failed: say so without its text, which may name internal hosts or SQL.
    options.onError(error);
    sendError(request, response, 500, "the metrics could not be collected; see the service's log");
    return;
  }
  send(request, response, 200, body, { "content-type": options.source.contentType });
}

/** Refusals and failures answer as `/healthz/details` does: JSON `{"error": "..."}`. */
function sendError(
  request: FallbackArguments[0],
  response: FallbackArguments[1],
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  send(request, response, status, JSON.stringify({ error: message }), {
    ...headers,
    "content-type": "application/json",
  });
}

function send(
  request: FallbackArguments[0],
  response: FallbackArguments[1],
  status: number,
  body: string,
  headers: Record<string, string>,
): void {
  response.writeHead(status, { ...headers, "cache-control": "no-store" });
  if (request.method === "HEAD") response.end();
  else response.end(body);
}

/**
 * `GET /healthz`: a plain HTTP probe for load balancers and the Docker HEALTHCHECK. Open to
 * anyone, so it says only whether the service is serving (`{"status":"ok"}`, 200, or
 * `{"status":"unavailable"}`, 503): the poller's last error (driver text, internal hosts and
 * ports), queue depth and calls in flight are for operators, at `GET /healthz/details`, which
 * needs an `admin` key when authentication is on.
 */
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type FallbackArguments = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>;

export interface HealthzSource {
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** True once the server has started to shut down. */
  isDraining(): boolean;
  /** Extra sections, e.g. the vendor poller's status. */
  details(): Record<string, unknown>;
  /** Whether the caller may see the details: `null` if so, else the HTTP status and message. */
  authorizeDetails(authorization: string | undefined): { status: 401 | 403; message: string } | null;
}

const startedAtMs = Date.now();

/** The path of the details; `/healthz` itself is the open probe. */
export const HEALTHZ_DETAILS_PATH = "/healthz/details";

export async function serveHealthz(
  source: HealthzSource,
  request: FallbackArguments[0],
  response: FallbackArguments[1],
  detailed: boolean,
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendJson(request, response, 405, { error: "method not allowed" }, { allow: "GET, HEAD" });
    return;
  }
  if (detailed) {
    const refusal = source.authorizeDetails(request.headers.authorization);
    if (refusal !== null) {
      sendJson(request, response, refusal.status, { error: refusal.message });
      return;
    }
  }
  const pingStartedAt = performance.now();
  let reachable = true;
  try {
    await source.ping();
  } catch {
    reachable = false;
  }
  const draining = source.isDraining();
  const status = draining ? "shutting_down" : reachable ? "ok" : "database_unreachable";
  const httpStatus = status === "ok" ? 200 : 503;
  if (!detailed) {
    sendJson(request, response, httpStatus, { status: status === "ok" ? "ok" : "unavailable" });
    return;
  }
  sendJson(request, response, httpStatus, {
    status,
    uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
    serverTime: new Date().toISOString(),
    database: { reachable, pingMs: Math.round((performance.now() - pingStartedAt) * 1000) / 1000 },
    ...source.details(),
  });
}

function sendJson(
  request: FallbackArguments[0],
  response: FallbackArguments[1],
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { ...headers, "content-type": "application/json", "cache-control": "no-store" });
  if (request.method === "HEAD") response.end();
  else response.end(JSON.stringify(body));
}

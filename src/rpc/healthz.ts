/**
 * `GET /healthz`: a plain HTTP probe for load balancers and the Docker HEALTHCHECK, with the
 * uptime, whether the database answers, and the server's clock.
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
}

const startedAtMs = Date.now();

export async function serveHealthz(
  source: HealthzSource,
  request: FallbackArguments[0],
  response: FallbackArguments[1],
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" });
    response.end(JSON.stringify({ error: "method not allowed" }));
    return;
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
  const body = {
    status,
    uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
    serverTime: new Date().toISOString(),
    database: { reachable, pingMs: Math.round((performance.now() - pingStartedAt) * 1000) / 1000 },
    ...source.details(),
  };
  response.writeHead(status === "ok" ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
  if (request.method === "HEAD") response.end();
  else response.end(JSON.stringify(body));
}

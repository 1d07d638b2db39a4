/**
 * The seed-compatible route profiles (LEDGER_COMPAT=card,wallet,rewards): each maps one replaced
 * system's own REST API onto our RPCs, so its clients switch by changing a URL. All are off by
 * default; unknown names are refused at start-up.
 */
import type { HttpRequest, HttpResponse } from "../gateway/http-io.js";
import { callerGoneSignal } from "../gateway/http-io.js";
import { headersOf } from "../gateway/rpc-invoker.js";
import { cardRoutes } from "./card.js";
import { sendText, type CompatContext, type CompatDeps } from "./compat-call.js";
import { rewardsRoutes } from "./rewards.js";
import { walletRoutes } from "./wallet.js";
import { withCompatOperations, type CompatOperation } from "./openapi.js";
import type { CompatProfile } from "./profile-names.js";

export type { CompatProfile } from "./profile-names.js";

/** One seed route: `path` uses `:name` for a segment parameter, as Express routes do. */
export interface CompatRoute {
  readonly method: string;
  readonly path: string;
  /** Its operation in GET /openapi.json. */
  readonly doc: CompatOperation;
  serve(deps: CompatDeps, ctx: CompatContext): Promise<void>;
}

const PROFILE_ROUTES: Record<CompatProfile, readonly CompatRoute[]> = {
  card: cardRoutes,
  wallet: walletRoutes,
  rewards: rewardsRoutes,
};

/** `document` (the proto's OpenAPI description) with the routes of `profiles` added. */
export function withCompatRoutes(document: unknown, profiles: readonly CompatProfile[]): unknown {
  return withCompatOperations(
    document,
    profiles.flatMap((profile) => PROFILE_ROUTES[profile].map((route) => ({ ...route, profile }))),
  );
}

/** A handler for the profiles' routes that returns false for any other request. */
export function compatRoutes(
  profiles: readonly CompatProfile[],
  deps: CompatDeps,
): (request: HttpRequest, response: HttpResponse) => boolean {
  const routes = profiles
    .flatMap((profile) => PROFILE_ROUTES[profile])
    .map((route) => ({ route, parts: route.path.split("/") }));
  if (routes.length === 0) return () => false;
  return (request, response) => {
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const parts = (queryStart < 0 ? url : url.slice(0, queryStart)).split("/");
    for (const { route, parts: pattern } of routes) {
      if (route.method !== request.method || pattern.length !== parts.length) continue;
      const params = matchParts(pattern, parts);
      if (params === undefined) continue;
      const ctx: CompatContext = {
        request,
        response,
        params,
        query: new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1)),
        header: headersOf(request.headers),
        signal: callerGoneSignal(response),
      };
      route.serve(deps, ctx).catch((error: unknown) => {
        deps.onBug(error);
        sendText(
          response,
          500,
          JSON.stringify({ message: "internal error; the incident was logged", code: "internal" }),
        );
      });
      return true;
    }
    return false;
  };
}

function matchParts(pattern: readonly string[], parts: readonly string[]): Map<string, string> | undefined {
  const params = new Map<string, string>();
  for (const [index, expected] of pattern.entries()) {
    const actual = parts[index] ?? "";
    if (expected.startsWith(":")) {
      if (actual === "") return undefined;
      try {
        params.set(expected.slice(1), decodeURIComponent(actual));
      } catch {
        // Not valid percent-encoding: the ledger's own user id rules will refuse the raw text.
        params.set(expected.slice(1), actual);
      }
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

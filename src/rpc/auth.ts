/**
 * Authentication and authorization of calls by API key (`authorization: Bearer <key>`).
 *
 * `checkCall` is a plain function of the method and the header so that every transport (the
 * connect-node adapter here, a native grpc-js server if one is added) applies the same rule;
 * `authInterceptor` is its connect-node wiring. Health and reflection stay open so that probes,
 * load balancers and grpcurl work without a secret; every other method needs a key with its
 * scope, and methods this table does not know need `admin`, so that a new RPC is closed until
 * someone decides otherwise.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { ApiKeyring, Scope } from "./api-keys.js";
import { permissionDeniedError, unauthenticatedError } from "./errors.js";

const PUBLIC_SERVICES = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

const METHOD_SCOPES: ReadonlyMap<string, Scope> = new Map([
  ["ledger.v1.LedgerService/GetBalance", "read"],
  ["ledger.v1.LedgerService/GetPayouts", "read"],
  ["ledger.v1.LedgerService/ListEntries", "read"],
  ["ledger.v1.LedgerService/GetEntry", "read"],
  ["ledger.v1.LedgerService/StreamEntries", "read"],
  ["ledger.v1.LedgerService/Load", "write"],
  ["ledger.v1.LedgerService/Authorize", "write"],
  ["ledger.v1.LedgerService/AdjustBalance", "write"],
  ["ledger.v1.LedgerService/Transfer", "write"],
  ["ledger.v1.LedgerService/SetAccountPolicy", "admin"],
  ["ledger.v1.LedgerService/Capture", "write"],
  ["ledger.v1.LedgerService/Void", "write"],
  ["ledger.v1.LedgerService/ApplyBatch", "write"],
]);

const BEARER_PATTERN = /^Bearer +(\S+) *$/i;

/** The scope `method` ("pkg.Service/Method", with or without a leading slash) needs; null if public. */
export function requiredScope(method: string): Scope | null {
  const name = method.startsWith("/") ? method.slice(1) : method;
  const service = name.slice(0, Math.max(0, name.indexOf("/")));
  if (PUBLIC_SERVICES.has(service)) return null;
  return METHOD_SCOPES.get(name) ?? "admin";
}

export type AuthDecision =
  | { readonly ok: true; readonly keyName: string | null }
  | {
      readonly ok: false;
      readonly code: "unauthenticated" | "permission_denied";
      readonly message: string;
      readonly scope: Scope;
    };

/**
 * Decides whether a call may proceed. `keyring` null means authentication is off. The message
 * names the key's holder, never the token.
 */
export function checkCall(
  keyring: ApiKeyring | null,
  method: string,
  authorization: string | null | undefined,
): AuthDecision {
  const scope = requiredScope(method);
  if (keyring === null || scope === null) return { ok: true, keyName: null };
  const token = BEARER_PATTERN.exec(authorization ?? "")?.[1];
  if (token === undefined) {
    const message = "this method needs an API key, sent in the authorization header as Bearer <key>";
    return { ok: false, code: "unauthenticated", message, scope };
  }
  const record = keyring.find(token);
  if (record === undefined) return { ok: false, code: "unauthenticated", message: "the API key is not valid", scope };
  if (!record.scopes.has(scope)) {
    const message = `the API key "${record.name}" lacks the "${scope}" scope that ${method.replace(/^\//, "")} needs`;
    return { ok: false, code: "permission_denied", message, scope };
  }
  return { ok: true, keyName: record.name };
}

/** The connect-node wiring of `checkCall`; the error table supplies the codes and details. */
export function authInterceptor(keyring: ApiKeyring | null): Interceptor {
  // With authentication off every call passes: skip reading headers on the hot path.
  if (keyring === null) return (next) => next;
  return (next) => async (request) => {
    const method = `${request.service.typeName}/${request.method.name}`;
    const decision = checkCall(keyring, method, request.header.get("authorization"));
    if (!decision.ok) {
      throw decision.code === "unauthenticated"
        ? unauthenticatedError(decision.message)
        : permissionDeniedError(decision.message, decision.scope);
    }
    return next(request);
  };
}

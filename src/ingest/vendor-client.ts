/**
 * One request to the vendor's `GET /transactions`, classified. Every failure is an operating
 * error returned as a value (never thrown) with what the retry loop needs: whether the vendor
 * asked us to wait, and for how long.
 */
import { isLoopbackHost } from "../secure-defaults.js";
import { isJsonArray, isJsonObject, JsonNumber, parseExactJson, type JsonArray, type JsonValue } from "./exact-json.js";

/** Largest response body read: a 1,000-row page is about 200 KB, so this only stops runaways. */
export const RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
/** Longest Retry-After honoured: a larger value is more likely a bug than a plan. */
export const RETRY_AFTER_MAX_MS = 15 * 60_000;

export interface PageRequest {
  readonly baseUrl: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly page: number;
  readonly limit: number;
  readonly timeoutMs: number;
}

export interface VendorPage {
  readonly items: JsonArray;
  readonly totalItems: number;
  readonly totalPages: number;
}

export type FailureKind = "rate_limited" | "server_error" | "client_error" | "timeout" | "network" | "bad_response";

export type FetchOutcome =
  | { readonly ok: true; readonly page: VendorPage }
  | { readonly ok: false; readonly kind: FailureKind; readonly detail: string; readonly retryAfterMs?: number };

/** `YYYY-MM-DD HH:mm:ss` in UTC, the vendor's query format. */
export function formatVendorDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

export function pageUrl(request: PageRequest): string {
  const query = [
    `startDate=${encodeURIComponent(formatVendorDate(request.startMs))}`,
    `endDate=${encodeURIComponent(formatVendorDate(request.endMs))}`,
    `page=${request.page}`,
    `limit=${request.limit}`,
  ].join("&");
  return `${request.baseUrl}/transactions?${query}`;
}

export async function fetchPage(request: PageRequest, stop: AbortSignal): Promise<FetchOutcome> {
  const signal = AbortSignal.any([stop, AbortSignal.timeout(request.timeoutMs)]);
  try {
    // A redirect is not followed: it could point the poller, and the data it trusts, at any
    // host. The vendor's address is configuration; a moved vendor is the operator's to update.
    const response = await fetch(pageUrl(request), {
      signal,
      headers: { accept: "application/json" },
      redirect: "manual",
    });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      return {
        ok: false,
        kind: "client_error",
        detail: `HTTP ${response.status}: the vendor answered with a redirect, which is not followed; set LEDGER_VENDOR_URL to the final address`,
      };
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      return failureOf(response);
    }
    const text = await readBounded(response);
    if (text === undefined)
      return { ok: false, kind: "bad_response", detail: `body larger than ${RESPONSE_BYTES_MAX} bytes` };
    return parsePage(text);
  } catch (error) {
    if (signal.aborted && !stop.aborted)
      return { ok: false, kind: "timeout", detail: `no complete answer within ${request.timeoutMs} ms` };
    return {
      ok: false,
      kind: "network",
      detail: error instanceof Error ? `${error.message}${causeOf(error)}` : String(error),
    };
  }
}

function causeOf(error: Error): string {
  const cause = error.cause;
  return cause instanceof Error ? `: ${cause.message}` : "";
}

function failureOf(response: Response): FetchOutcome {
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
  const detail = `HTTP ${response.status}`;
  const kind: FailureKind =
    response.status === 429 ? "rate_limited" : response.status >= 500 ? "server_error" : "client_error";
  return retryAfterMs === undefined ? { ok: false, kind, detail } : { ok: false, kind, detail, retryAfterMs };
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from now, capped. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - nowMs;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS);
}

async function readBounded(response: Response): Promise<string | undefined> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > RESPONSE_BYTES_MAX) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A page's body: `items` must be an array and `meta` must carry the counts. */
export function parsePage(text: string): FetchOutcome {
  let body: JsonValue;
  try {
    body = parseExactJson(text);
  } catch (error) {
    return { ok: false, kind: "bad_response", detail: `body is not JSON: ${(error as Error).message}` };
  }
  if (!isJsonObject(body)) return { ok: false, kind: "bad_response", detail: "body is not a JSON object" };
  const items = body.fields.get("items");
  const meta = body.fields.get("meta");
  if (!isJsonArray(items) || !isJsonObject(meta))
    return { ok: false, kind: "bad_response", detail: "body lacks items or meta" };
  const totalItems = countOf(meta.fields.get("totalItems"));
  const totalPages = countOf(meta.fields.get("totalPages"));
  if (totalItems === undefined || totalPages === undefined) {
    return { ok: false, kind: "bad_response", detail: "meta lacks totalItems or totalPages" };
  }
  return { ok: true, page: { items, totalItems, totalPages } };
}

function countOf(value: JsonValue | undefined): number | undefined {
  if (!(value instanceof JsonNumber) || !/^\d{1,15}$/.test(value.text)) return undefined;
  return Number(value.text);
}

/**
 * Why a vendor address deserves a warning, or undefined: plain http to another machine lets
 * anyone on the path read or change the transactions we credit.
 */
export function cleartextVendorWarning(baseUrl: string): string | undefined {
  const url = new URL(baseUrl);
  if (url.protocol !== "http:") return undefined;
  return isLoopbackHost(url.hostname)
    ? undefined
    : `the vendor ${url.host} is reached over cleartext http; use https unless the network path is trusted`;
}

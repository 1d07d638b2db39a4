/**
 * Reading bodies and writing replies for the gateway's routes, on HTTP/1.1 and HTTP/2 alike.
 */
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { RpcReply } from "./rpc-invoker.js";

/** What connect-node's fallback receives: an HTTP/1.1 or an HTTP/2 request and response. */
type FallbackArguments = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>;
export type HttpRequest = FallbackArguments[0];
export type HttpResponse = FallbackArguments[1];

export type BodyText =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: "too_large" | "aborted" };

/**
 * The request body as UTF-8 text, refused past `readMaxBytes` (the same bound as an RPC's
 * message) without buffering the rest.
 */
export function readBodyText(request: HttpRequest, readMaxBytes: number): Promise<BodyText> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (result: BodyText) => {
      if (settled) return;
      settled = true;
      request.off("data", onData);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > readMaxBytes) {
        // Keep draining without storing, so the reply can still be written on this connection.
        settle({ ok: false, reason: "too_large" });
        request.resume();
        return;
      }
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => settle({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
    request.once("error", () => settle({ ok: false, reason: "aborted" }));
    request.once("close", () => settle({ ok: false, reason: "aborted" }));
  });
}

/** Writes an RPC reply (or a gateway refusal) as is: status, content type and body. */
export function sendReply(response: HttpResponse, reply: RpcReply): void {
  if (response.headersSent || response.destroyed) return;
  const headers: Record<string, string> = {};
  // Connect's own protocol headers say nothing to a REST caller; the content type and lengths do.
  reply.header.forEach((value, key) => {
    if (key !== "content-length" && key !== "content-encoding") headers[key] = value;
  });
  headers["content-length"] = String(reply.body.byteLength);
  response.writeHead(reply.status, headers);
  response.end(reply.body);
}

/** Writes a JSON value with its status; nothing when the caller has gone or a reply was sent. */
export function sendJson(response: HttpResponse, status: number, value: unknown): void {
  if (response.headersSent || response.destroyed) return;
  const body = Buffer.from(JSON.stringify(value));
  response.writeHead(status, { "content-type": "application/json", "content-length": String(body.byteLength) });
  response.end(body);
}

/** An AbortSignal that fires when the caller goes away before its reply is written. */
export function callerGoneSignal(response: HttpResponse): AbortSignal {
  const controller = new AbortController();
  response.once("close", () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}

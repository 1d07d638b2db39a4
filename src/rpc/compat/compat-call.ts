/**
 * What every compat route shares: its request context, the exact JSON body, and calling an RPC
 * through the gateway's invoker (so auth, logs and the error table apply as to any call) with the
 * answer decoded into the typed response or a plain error the route can reshape.
 */
import { fromJson, type DescMessage, type DescMethod, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, codeToString, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import {
  isJsonObject,
  JsonSyntaxError,
  parseExactJson,
  type JsonObject as ExactObject,
} from "../../ingest/exact-json.js";
import { readBodyText, type HttpRequest, type HttpResponse } from "../gateway/http-io.js";
import type { RpcInvoker } from "../gateway/rpc-invoker.js";

export interface CompatDeps {
  readonly invoker: RpcInvoker;
  readonly readMaxBytes: number;
  readonly defaultCurrency: string;
  /** Reports a bug in a mapping; the caller gets a bare INTERNAL. */
  readonly onBug: (error: unknown) => void;
}

export interface CompatContext {
  readonly request: HttpRequest;
  readonly response: HttpResponse;
  readonly params: ReadonlyMap<string, string>;
  readonly query: URLSearchParams;
  readonly header: Headers;
  readonly signal: AbortSignal;
}

/** A failed call as the seeds' error bodies need it: HTTP status, code name, message, reason. */
export interface CompatFailure {
  readonly status: number;
  /** Connect's code string: "failed_precondition", "unauthenticated", ... */
  readonly code: string;
  readonly message: string;
  /** google.rpc.ErrorInfo.reason when the error table set one: INSUFFICIENT_FUNDS, ... */
  readonly reason: string | undefined;
}

export type CallResult<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & CompatFailure);

/** Calls `method` with the caller's headers: the typed response, or the failure to reshape. */
export async function callRpc<I extends DescMessage, O extends DescMessage>(
  deps: CompatDeps,
  ctx: CompatContext,
  method: DescMethod & { input: I; output: O },
  request: JsonObject,
): Promise<CallResult<MessageShape<O>>> {
  const reply = await deps.invoker.invoke(method, request, ctx.header, ctx.signal);
  if (reply.status === 200) {
    const json = JSON.parse(Buffer.from(reply.body).toString("utf8")) as JsonObject;
    return { ok: true, value: fromJson(method.output, json) };
  }
  const fallback = new ConnectError("the call failed", codeFromHttpStatus(reply.status));
  const error = errorFromJsonBytes(reply.body, undefined, fallback);
  const reason = error.findDetails(ErrorInfoSchema)[0]?.reason;
  return { ok: false, status: reply.status, code: codeToString(error.code), message: error.rawMessage, reason };
}

/** A refusal made by the compat mapping itself, before any RPC: a bad body, a missing field. */
export function invalidInput(message: string): CompatFailure {
  return { status: 400, code: codeToString(Code.InvalidArgument), message, reason: "INVALID_ARGUMENT" };
}

export type BodyResult =
  { readonly ok: true; readonly body: ExactObject } | { readonly ok: false; readonly failure: CompatFailure };

/** The body as an object whose numbers keep their text, so amounts convert exactly. */
export async function readJsonObject(deps: CompatDeps, request: HttpRequest): Promise<BodyResult> {
  const text = await readBodyText(request, deps.readMaxBytes);
  if (!text.ok) {
    const failure = {
      status: 429,
      code: "resource_exhausted",
      message: `the request body exceeds ${deps.readMaxBytes} bytes`,
      reason: undefined,
    };
    return { ok: false, failure };
  }
  try {
    const value = parseExactJson(text.text);
    if (!isJsonObject(value)) return { ok: false, failure: invalidInput("the body must be a JSON object") };
    if (value.duplicateKeys.length > 0) {
      return { ok: false, failure: invalidInput(`the body repeats ${value.duplicateKeys.join(", ")}`) };
    }
    return { ok: true, body: value };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { ok: false, failure: invalidInput(`the body is not valid JSON: ${error.message}`) };
  }
}

/** Writes JSON text already built (the routes write exact decimal literals by hand). */
export function sendText(response: HttpResponse, status: number, json: string): void {
  if (response.headersSent || response.destroyed) return;
  const body = Buffer.from(json);
  response.writeHead(status, { "content-type": "application/json", "content-length": String(body.byteLength) });
  response.end(body);
}

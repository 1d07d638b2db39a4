/**
 * Calls an RPC the way a Connect JSON client would, without a network hop: through a Connect
 * router built from the same routes and options as the served one. So a REST or compat call goes
 * through the same service classes, interceptors (log line, drain refusal, INTERNAL mask, auth)
 * and error table as every other call, and its errors have the same status and JSON body.
 */
import type { DescMethod, JsonObject } from "@bufbuild/protobuf";
import {
  createConnectRouter,
  type ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
} from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";

/** What the RPC answered: Connect's unary JSON response, status, headers and body as they are. */
export interface RpcReply {
  readonly status: number;
  readonly header: Headers;
  readonly body: Uint8Array;
}

// Headers that describe the caller's HTTP body or encoding, not the call: the gateway sets its own.
const DROPPED_HEADERS = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "accept-encoding",
  "connect-protocol-version",
  "connection",
  "host",
]);

/** One per server: the Connect handlers of every registered method, looked up by descriptor. */
export class RpcInvoker {
  private readonly handlers = new Map<DescMethod, UniversalHandler>();
  private readonly options: ConnectRouterOptions;

  constructor(routes: (router: ConnectRouter) => void, options: ConnectRouterOptions) {
    this.options = options;
    const router = createConnectRouter(options);
    routes(router);
    for (const handler of router.handlers) this.handlers.set(handler.method, handler);
  }

  /** Calls `method` with `request` (its proto JSON), passing the caller's headers (auth among them). */
  async invoke(method: DescMethod, request: JsonObject, callerHeader: Headers, signal: AbortSignal): Promise<RpcReply> {
    const handler = this.handlers.get(method);
    if (handler === undefined) throw new Error(`no handler for ${method.parent.typeName}/${method.name}`);
    const header = new Headers();
    callerHeader.forEach((value, key) => {
      if (!DROPPED_HEADERS.has(key)) header.set(key, value);
    });
    header.set("content-type", "application/json");
    header.set("connect-protocol-version", "1");
    const response = await handler({
      httpVersion: "1.1",
      url: `http://gateway${handler.requestPath}`,
      method: "POST",
      header,
      body: request,
      signal,
    });
    const chunks: Uint8Array[] = [];
    if (response.body !== undefined) for await (const chunk of response.body) chunks.push(chunk);
    return { status: response.status, header: response.header ?? new Headers(), body: Buffer.concat(chunks) };
  }

  /** A refusal made by the gateway itself (a bad path or body), in the shape Connect gives errors. */
  errorReply(error: ConnectError): RpcReply {
    const header = new Headers({ "content-type": "application/json" });
    return { status: codeToHttpStatus(error.code), header, body: errorToJsonBytes(error, this.options.jsonOptions) };
  }
}

/** Headers of a Node request as a `Headers`, without HTTP/2 pseudo-headers. */
export function headersOf(raw: Record<string, string | string[] | undefined>): Headers {
  const header = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) header.append(key, item);
  }
  return header;
}

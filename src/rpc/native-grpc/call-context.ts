/**
 * What a connect handler and a connect interceptor see of a call that arrived through grpc-js.
 *
 * Everything costly is made on first use: the profile of connect-node showed an AbortSignal
 * (and its DOMException) and several Headers objects per call among its largest costs, and the
 * ledger's handlers read none of them. A signal asked for after the call ended is born aborted,
 * so no handler can miss a cancellation.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { Metadata } from "@grpc/grpc-js";
import { cancelledError } from "./status.js";

export interface CallContextInit {
  readonly service: DescService;
  readonly method: DescMethod;
  /** The request's metadata, read into `requestHeader` only if someone asks. */
  readonly metadata: Metadata;
  /** Epoch milliseconds by which the call must end; Infinity when the caller set none. */
  readonly deadlineMs: number;
  /** Aborts long-lived calls when the server shuts down; unary calls run to completion. */
  readonly shutdownSignal: AbortSignal | undefined;
}

export class NativeCallContext implements HandlerContext {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  private controller: AbortController | undefined;
  private ended = false;
  private endedReason: Error | undefined;
  private header: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private readonly onShutdown = () => this.end(cancelledError(false));

  constructor(private readonly init: CallContextInit) {
    this.service = init.service;
    this.method = init.method;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.endedReason ?? cancelledError(Date.now() >= this.init.deadlineMs));
      else this.init.shutdownSignal?.addEventListener("abort", this.onShutdown, { once: true });
    }
    return this.controller.signal;
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }

  get requestHeader(): Headers {
    return (this.header ??= metadataToHeaders(this.init.metadata));
  }

  get responseHeader(): Headers {
    return (this.responseHeaders ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.responseTrailers ??= new Headers());
  }

  get values(): ContextValues {
    return (this.contextValues ??= createContextValues());
  }

  timeoutMs = (): number | undefined =>
    this.init.deadlineMs === Infinity ? undefined : Math.max(0, this.init.deadlineMs - Date.now());

  /** Response headers set by the handler or an interceptor, if any, as grpc-js metadata. */
  takeResponseHeader(): Metadata | undefined {
    return this.responseHeaders === undefined ? undefined : headersToMetadata(this.responseHeaders);
  }

  takeResponseTrailer(): Metadata | undefined {
    return this.responseTrailers === undefined ? undefined : headersToMetadata(this.responseTrailers);
  }

  /**
   * The call is over (answered, cancelled by the caller, or past its deadline). The reason is
   * built only when a signal exists to carry it: an error's stack trace on every call showed in
   * the profile.
   */
  end(reason?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.endedReason = reason;
    if (this.controller === undefined) return;
    this.init.shutdownSignal?.removeEventListener("abort", this.onShutdown);
    this.controller.abort(reason ?? cancelledError(Date.now() >= this.init.deadlineMs));
  }
}

function metadataToHeaders(metadata: Metadata): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(metadata.getMap())) {
    // Binary values are base64 on the wire, as the gRPC spec writes them in HTTP/2 headers.
    const text = typeof values === "string" ? values : values.toString("base64");
    headers.append(key, text);
  }
  return headers;
}

function headersToMetadata(headers: Headers): Metadata | undefined {
  let metadata: Metadata | undefined;
  headers.forEach((value, key) => {
    metadata ??= new Metadata();
    if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
    else metadata.add(key, value);
  });
  return metadata;
}

/**
 * What a connect handler and a connect interceptor see of a unary Connect call taken by the lean
 * HTTP/1.1 path (./unary-handler.ts). As on the native gRPC path, everything costly is made on
 * first use: the profile of connect-node's HTTP/1.1 path showed an AbortSignal (and the
 * DOMException of its abort) and several Headers objects per call among its largest costs, and
 * the ledger's unary handlers read none of them. A signal asked for after the call ended is born
 * aborted, so no handler can miss a cancellation.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";

export class LeanCallContext implements HandlerContext {
  readonly protocolName = "connect";
  readonly requestMethod = "POST";
  private controller: AbortController | undefined;
  private ended = false;
  private endedReason: unknown;
  private header: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private readonly onShutdown = () => this.end(new ConnectError("operation was aborted", Code.Canceled));

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly request: IncomingMessage,
    private readonly shutdownSignal: AbortSignal | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.endedReason ?? new ConnectError("operation was aborted", Code.Canceled));
      else this.shutdownSignal?.addEventListener("abort", this.onShutdown, { once: true });
    }
    return this.controller.signal;
  }

  /** The lean path takes no call with a timeout (connect-node serves those): there is none. */
  readonly timeoutMs = (): number | undefined => undefined;

  /** The request's absolute URL, as connect-node gives it. */
  get url(): string {
    const scheme = (this.request.socket as Socket & { encrypted?: boolean }).encrypted === true ? "https" : "http";
    return `${scheme}://${this.request.headers.host ?? "localhost"}${this.request.url ?? "/"}`;
  }

  get requestHeader(): Headers {
    if (this.header === undefined) {
      this.header = new Headers();
      for (const [key, value] of Object.entries(this.request.headers)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const item of value) this.header.append(key, item);
        else this.header.set(key, value);
      }
    }
    return this.header;
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

  /** Response headers or trailers set by the handler or an interceptor, if any. */
  get touchedResponseHeaders(): { header: Headers | undefined; trailer: Headers | undefined } {
    return { header: this.responseHeaders, trailer: this.responseTrailers };
  }

  /** The call is over: answered, failed, or its caller gone. */
  end(reason?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endedReason = reason;
    // The reason is built only when a signal exists to carry it: an error per call (and its
    // stack trace) showed in the profile.
    if (this.controller === undefined) return;
    this.endedReason ??= new ConnectError("operation was aborted", Code.Canceled);
    this.shutdownSignal?.removeEventListener("abort", this.onShutdown);
    this.controller.abort(this.endedReason);
  }
}

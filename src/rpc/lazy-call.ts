/**
 * What a connect handler and a connect interceptor see of a call taken by one of our own engines
 * (native gRPC through grpc-js in `native-grpc/`, the lean HTTP/1.1 unary path in
 * `connect-http1/`) instead of by connect-node.
 *
 * Everything costly is made on first use: the profiles of connect-node showed an AbortSignal (and
 * the DOMException of its abort) and several Headers objects per call among its largest costs,
 * and the ledger's handlers read none of them. A signal asked for after the call ended is born
 * aborted, so no handler can miss a cancellation.
 */
import { create, isMessage, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";

export abstract class LazyCallContext implements HandlerContext {
  abstract readonly protocolName: string;
  readonly requestMethod = "POST";
  private controller: AbortController | undefined;
  private ended = false;
  private endedReason: unknown;
  private header: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private readonly onShutdown = () => this.end(this.shutdownReason());

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly shutdownSignal: AbortSignal | undefined,
  ) {}

  abstract get url(): string;
  abstract timeoutMs(): number | undefined;
  /** The request's headers, read from the engine's own representation. */
  protected abstract readRequestHeader(): Headers;
  /** What a signal carries when the call ended without a reason (answered, or cancelled). */
  protected abstract cancelReason(): Error;

  /** What a signal carries when the server shuts down during the call. */
  protected shutdownReason(): Error {
    return this.cancelReason();
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.endedReason ?? this.cancelReason());
      else this.shutdownSignal?.addEventListener("abort", this.onShutdown, { once: true });
    }
    return this.controller.signal;
  }

  get requestHeader(): Headers {
    return (this.header ??= this.readRequestHeader());
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

  /**
   * The call is over: answered, failed, cancelled by the caller, or past its deadline. The reason
   * is built only when a signal exists to carry it: an error's stack trace on every call showed
   * in the profile.
   */
  end(reason?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endedReason = reason;
    if (this.controller === undefined) return;
    this.shutdownSignal?.removeEventListener("abort", this.onShutdown);
    this.controller.abort(reason ?? this.cancelReason());
  }
}

/** A connect request whose costly parts come from the context on first use. */
export class LazyRequest<Context extends LazyCallContext = LazyCallContext> {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestMethod = "POST";

  constructor(
    readonly context: Context,
    readonly stream: boolean,
    readonly message: unknown,
  ) {
    this.service = context.service;
    this.method = context.method;
  }

  get url(): string {
    return this.context.url;
  }

  get signal(): AbortSignal {
    return this.context.signal;
  }

  get header(): Headers {
    return this.context.requestHeader;
  }

  get contextValues() {
    return this.context.values;
  }
}

/**
 * A connect response whose headers are made only if an interceptor reads them (an object
 * spread would call the getters and build two Headers per call).
 */
export class LazyResponse {
  readonly service: DescService;
  readonly method: DescMethod;

  constructor(
    private readonly context: LazyCallContext,
    readonly stream: boolean,
    readonly message: unknown,
  ) {
    this.service = context.service;
    this.method = context.method;
  }

  get header(): Headers {
    return this.context.responseHeader;
  }

  get trailer(): Headers {
    return this.context.responseTrailer;
  }
}

/** connect implementations may answer with an init object; serialization needs the message. */
export function toMessage(schema: DescMessage, answer: unknown): unknown {
  return isMessage(answer, schema) ? answer : create(schema, answer as never);
}

/**
 * The call context of a unary Connect call taken by the lean HTTP/1.1 path (./unary-handler.ts):
 * everything costly is made on first use (see ../lazy-call.ts).
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { LazyCallContext } from "../lazy-call.js";

export class LeanCallContext extends LazyCallContext {
  readonly protocolName = "connect";

  constructor(
    service: DescService,
    method: DescMethod,
    private readonly request: IncomingMessage,
    shutdownSignal: AbortSignal | undefined,
  ) {
    super(service, method, shutdownSignal);
  }

  /** The lean path takes no call with a timeout (connect-node serves those): there is none. */
  timeoutMs(): number | undefined {
    return undefined;
  }

  /** The request's absolute URL, as connect-node gives it. */
  get url(): string {
    const scheme = (this.request.socket as Socket & { encrypted?: boolean }).encrypted === true ? "https" : "http";
    return `${scheme}://${this.request.headers.host ?? "localhost"}${this.request.url ?? "/"}`;
  }

  protected readRequestHeader(): Headers {
    const header = new Headers();
    for (const [key, value] of Object.entries(this.request.headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) header.append(key, item);
      else header.set(key, value);
    }
    return header;
  }

  protected cancelReason(): Error {
    return new ConnectError("operation was aborted", Code.Canceled);
  }
}

/**
 * The call context of a call taken by our own gRPC engine on `node:http2`: everything costly is
 * made on first use (see ../lazy-call.ts). The request headers are read from the HTTP/2 headers
 * with the same entries grpc-js's Metadata would hold, so an interceptor sees the same thing
 * whichever engine took the call.
 */
import type { IncomingHttpHeaders } from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { LazyCallContext } from "../lazy-call.js";
import { cancelledError } from "../native-grpc/status.js";

/** Transport headers that grpc-js keeps out of the metadata an application sees. */
const TRANSPORT_HEADERS = new Set([
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "accept-encoding",
  "te",
  "content-type",
]);

export class H2CallContext extends LazyCallContext {
  readonly protocolName = "grpc";

  constructor(
    service: DescService,
    method: DescMethod,
    private readonly headers: IncomingHttpHeaders,
    /** Epoch milliseconds by which the call must end; Infinity when the caller set none. */
    private readonly deadlineMs: number,
    shutdownSignal: AbortSignal | undefined,
  ) {
    super(service, method, shutdownSignal);
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }

  timeoutMs(): number | undefined {
    return this.deadlineMs === Infinity ? undefined : Math.max(0, this.deadlineMs - Date.now());
  }

  protected readRequestHeader(): Headers {
    const headers = new Headers();
    for (const [key, value] of Object.entries(this.headers)) {
      if (key.startsWith(":") || TRANSPORT_HEADERS.has(key) || value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (!key.endsWith("-bin")) {
          headers.append(key, item);
          continue;
        }
        // grpc-js splits binary values at commas, decodes them, and the adapter re-encodes them.
        for (const part of item.split(",")) headers.append(key, Buffer.from(part, "base64").toString("base64"));
      }
    }
    return headers;
  }

  protected cancelReason(): Error {
    return cancelledError(Date.now() >= this.deadlineMs);
  }

  protected override shutdownReason(): Error {
    return cancelledError(false);
  }
}

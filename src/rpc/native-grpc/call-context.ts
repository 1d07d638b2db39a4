/**
 * The call context of a call that arrived through grpc-js: everything costly is made on first
 * use (see ../lazy-call.ts).
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { LazyCallContext } from "../lazy-call.js";
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

export class NativeCallContext extends LazyCallContext {
  readonly protocolName = "grpc";

  constructor(private readonly init: CallContextInit) {
    super(init.service, init.method, init.shutdownSignal);
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }

  timeoutMs(): number | undefined {
    return this.init.deadlineMs === Infinity ? undefined : Math.max(0, this.init.deadlineMs - Date.now());
  }

  /** Response headers set by the handler or an interceptor, if any, as grpc-js metadata. */
  takeResponseHeader(): Metadata | undefined {
    const { header } = this.touchedResponseHeaders;
    return header === undefined ? undefined : headersToMetadata(header);
  }

  takeResponseTrailer(): Metadata | undefined {
    const { trailer } = this.touchedResponseHeaders;
    return trailer === undefined ? undefined : headersToMetadata(trailer);
  }

  protected readRequestHeader(): Headers {
    return metadataToHeaders(this.init.metadata);
  }

  protected cancelReason(): Error {
    return cancelledError(Date.now() >= this.init.deadlineMs);
  }

  protected override shutdownReason(): Error {
    return cancelledError(false);
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

/**
 * A gRPC client built on @grpc/grpc-js, an implementation independent of the server's, with
 * protobuf-es doing the (de)serialization: what our service-to-service callers run.
 */
import * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** A failed call: the gRPC status and the decoded google.rpc details. */
export class GrpcCallError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly reason: string | undefined,
    readonly metadata: Record<string, string>,
    readonly fieldViolations: { field: string; reason: string }[],
  ) {
    super(`${grpc.status[code]}: ${details}`);
  }
}

/** The error a call fails with; throws if it succeeds or fails with anything but a gRPC status. */
export async function callError(promise: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GrpcCallError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

export function decodeError(error: grpc.ServiceError): GrpcCallError {
  const [raw] = error.metadata?.get("grpc-status-details-bin") ?? [];
  let reason: string | undefined;
  let metadata: Record<string, string> = {};
  const fieldViolations: { field: string; reason: string }[] = [];
  if (raw instanceof Buffer) {
    const status = fromBinary(StatusSchema, raw);
    for (const detail of status.details) {
      const info = anyUnpack(detail, ErrorInfoSchema);
      if (info !== undefined) {
        reason = info.reason;
        metadata = info.metadata;
      }
      const badRequest = anyUnpack(detail, BadRequestSchema);
      badRequest?.fieldViolations.forEach((violation) =>
        fieldViolations.push({ field: violation.field, reason: violation.reason }),
      );
    }
  }
  return new GrpcCallError(error.code, error.details, reason, metadata, fieldViolations);
}

function path(method: { parent: { typeName: string }; name: string }): string {
  return `/${method.parent.typeName}/${method.name}`;
}

export class GrpcTestClient {
  readonly raw: grpc.Client;

  constructor(address: string, options: grpc.ChannelOptions = {}) {
    this.raw = new grpc.Client(address, grpc.credentials.createInsecure(), options);
  }

  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    input: MessageInitShape<I>,
    options: { deadlineMs?: number; metadata?: grpc.Metadata } = {},
  ): Promise<MessageShape<O>> {
    const request = create(method.input, input);
    return new Promise((resolve, reject) => {
      this.raw.makeUnaryRequest(
        path(method),
        (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        request,
        options.metadata ?? new grpc.Metadata(),
        options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
        (error, response) => {
          if (error) reject(decodeError(error));
          else resolve(response as MessageShape<O>);
        },
      );
    });
  }

  /** Sends every request on one bidi stream and collects the answers. */
  bidi<I extends DescMessage, O extends DescMessage>(
    method: DescMethodBiDiStreaming<I, O>,
    inputs: MessageInitShape<I>[],
  ): Promise<MessageShape<O>[]> {
    const call = this.raw.makeBidiStreamRequest(
      path(method),
      (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
      (bytes: Buffer) => fromBinary(method.output, bytes),
    );
    const answers: MessageShape<O>[] = [];
    return new Promise((resolve, reject) => {
      call.on("data", (answer: MessageShape<O>) => answers.push(answer));
      call.on("error", (error: grpc.ServiceError) => reject(decodeError(error)));
      call.on("end", () => resolve(answers));
      for (const input of inputs) call.write(create(method.input, input));
      call.end();
    });
  }

  close(): void {
    this.raw.close();
  }
}

export { grpc };

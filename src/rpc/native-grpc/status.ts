/**
 * Errors on the native gRPC path: a `ConnectError` becomes the status grpc-js sends, with the
 * same code, message and `google.rpc.Status` details (`grpc-status-details-bin`) that
 * connect-node's gRPC protocol writes, so a client cannot tell the two transports apart.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";

const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/**
 * The status for a failed call. Anything that is not a `ConnectError` reached here past the
 * interceptors, which mask unexpected errors; it is still sent as a bare INTERNAL, never with
 * its own text.
 */
export function toGrpcStatus(error: unknown): StatusObject {
  const connectError = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal);
  const metadata = new Metadata();
  connectError.metadata.forEach((value, key) => {
    if (!key.endsWith("-bin")) metadata.add(key, value);
  });
  if (connectError.details.length > 0) {
    const status = create(StatusSchema, {
      code: connectError.code,
      message: connectError.rawMessage,
      details: connectError.details.map((detail) =>
        "desc" in detail
          ? anyPack(detail.desc, create(detail.desc, detail.value))
          : { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value },
      ),
    });
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(toBinary(StatusSchema, status)));
  }
  // Connect codes are the gRPC codes, number for number.
  return { code: connectError.code as number, details: connectError.rawMessage, metadata };
}

/** Why a call's signal aborted, as the handler sees it. */
export function cancelledError(deadlinePassed: boolean): ConnectError {
  return deadlinePassed
    ? new ConnectError("the deadline passed", Code.DeadlineExceeded)
    : new ConnectError("the call was cancelled", Code.Canceled);
}

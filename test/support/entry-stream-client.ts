/**
 * StreamEntries clients for tests: native gRPC (@grpc/grpc-js, with pause for a slow consumer)
 * and Connect over HTTP/1.1 with JSON (fetch, enveloped frames), the two ways a consumer reads it.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  LedgerService,
  StreamEntriesRequestSchema,
  StreamEntriesResponseSchema,
  type StreamEntriesRequest,
  type StreamEntriesResponse,
} from "../../gen/ledger/v1/ledger_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { callError, decodeError, grpc, type GrpcCallError, type GrpcTestClient } from "./grpc-client.js";

const PATH = `/${LedgerService.typeName}/StreamEntries`;

export type StreamInit = MessageInitShape<typeof StreamEntriesRequestSchema>;

/** One open native gRPC stream: messages arrive in `received`; `ended` settles with the call. */
export interface OpenStream {
  readonly call: grpc.ClientReadableStream<StreamEntriesResponse>;
  readonly received: StreamEntriesResponse[];
  /** Resolves when the stream ends OK; rejects with its decoded `GrpcCallError` otherwise. */
  readonly ended: Promise<void>;
  /** Resolves once `count` messages have arrived in all. */
  until(count: number): Promise<void>;
}

export function openStream(
  client: GrpcTestClient,
  init: StreamInit,
  options: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): OpenStream {
  const request: StreamEntriesRequest = create(StreamEntriesRequestSchema, init);
  const call = client.raw.makeServerStreamRequest<StreamEntriesRequest, StreamEntriesResponse>(
    PATH,
    (message: StreamEntriesRequest) => Buffer.from(toBinary(StreamEntriesRequestSchema, message)),
    (bytes: Buffer) => fromBinary(StreamEntriesResponseSchema, bytes),
    request,
    options.metadata ?? new grpc.Metadata(),
    options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
  );
  const received: StreamEntriesResponse[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  call.on("data", (message: StreamEntriesResponse) => {
    received.push(message);
    for (const waiter of waiters.filter((one) => received.length >= one.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const ended = new Promise<void>((resolve, reject) => {
    call.on("error", (error: grpc.ServiceError) => reject(decodeError(error)));
    call.on("end", resolve);
  });
  ended.catch(() => undefined);
  return {
    call,
    received,
    ended,
    until: (count) =>
      received.length >= count
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ count, resolve })),
            ended.then(() => {
              throw new Error(`the stream ended after ${received.length} of ${count} messages`);
            }),
          ]),
  };
}

/** The status a stream fails with; throws if it ends OK. */
export function streamError(
  client: GrpcTestClient,
  init: StreamInit,
  metadata?: grpc.Metadata,
): Promise<GrpcCallError> {
  return callError(openStream(client, init, metadata === undefined ? {} : { metadata }).ended);
}

/** Connect streaming over HTTP/1.1 with JSON: the enveloped request and the decoded frames. */
export async function connectJsonStream(
  baseUrl: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; messages: Record<string, unknown>[]; end: Record<string, unknown> }> {
  const json = Buffer.from(JSON.stringify(body));
  const envelope = Buffer.alloc(5 + json.length);
  envelope.writeUInt8(0, 0);
  envelope.writeUInt32BE(json.length, 1);
  json.copy(envelope, 5);
  const response = await fetch(`${baseUrl}${PATH}`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", ...headers },
    body: envelope,
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const messages: Record<string, unknown>[] = [];
  let end: Record<string, unknown> = {};
  for (let offset = 0; offset + 5 <= bytes.length;) {
    const flags = bytes.readUInt8(offset);
    const length = bytes.readUInt32BE(offset + 1);
    const frame = JSON.parse(bytes.subarray(offset + 5, offset + 5 + length).toString("utf8")) as Record<
      string,
      unknown
    >;
    if ((flags & 0x02) !== 0) end = frame;
    else messages.push(frame);
    offset += 5 + length;
  }
  return { status: response.status, messages, end };
}

/**
 * Writes rounds of entries while a consumer is paused until the server's delivered count stops
 * moving for two rounds in a row: what a server that never buffers for a slow consumer does once
 * the transport's windows and buffers are full. A server that queued entries for the consumer
 * would count every round's entries and never plateau. Returns the ids written and the plateau.
 */
export async function writeUntilDeliveredPlateaus(
  writeRound: () => Promise<bigint[]>,
  deliveredNow: () => Promise<number>,
  roundsMax = 15,
): Promise<{ ids: bigint[]; plateau: number; rounds: number }> {
  const ids: bigint[] = [];
  let last = -1;
  let steady = 0;
  for (let round = 1; round <= roundsMax; round += 1) {
    ids.push(...(await writeRound()));
    await new Promise((resolve) => setTimeout(resolve, 250));
    const delivered = await deliveredNow();
    steady = delivered === last ? steady + 1 : 0;
    last = delivered;
    if (steady >= 2) return { ids, plateau: delivered, rounds: round };
  }
  throw new Error(`the delivered count kept growing over ${roundsMax} rounds (last ${last}, ${ids.length} written)`);
}

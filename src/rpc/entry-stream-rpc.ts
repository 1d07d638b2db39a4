/**
 * StreamEntries over Connect, gRPC-Web and native gRPC: decodes the request, opens the ledger's
 * stream and turns each step into a `StreamEntriesResponse`. The messages are produced only when
 * the transport asks for the next one (connect-node and the native adapter both wait for the
 * previous write to drain), so flow control reaches all the way to the store reads.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { parseStreamRequest } from "../domain/entry-stream.js";
import type { Ledger } from "../domain/ledger.js";
import {
  StreamEntriesResponseSchema,
  type StreamEntriesRequest,
  type StreamEntriesResponse,
} from "../../gen/ledger/v1/ledger_pb.js";
import { streamEndedError, toConnectError } from "./errors.js";
import { toLedgerEntry } from "./history-convert.js";

/** Told as streams open and close and entries go out (metrics); must be cheap and never throw. */
export interface StreamObserver {
  opened(): void;
  closed(): void;
  delivered(): void;
}

export interface EntryStreamOptions {
  /** Aborted when the server shuts down: open streams then end with UNAVAILABLE and their cursor. */
  readonly shutdownSignal?: AbortSignal;
  readonly observer?: StreamObserver;
}

export async function* serveEntryStream(
  ledger: Ledger,
  request: StreamEntriesRequest,
  context: HandlerContext,
  options: EntryStreamOptions,
): AsyncGenerator<StreamEntriesResponse> {
  const parsed = parseStreamRequest({
    userId: request.userId,
    currency: request.currency,
    afterId: request.start.case === "afterEntryId" ? request.start.value : undefined,
    maxEntries: request.maxEntries,
  });
  if (!parsed.ok) throw toConnectError({ kind: "invalid_argument", violations: parsed.violations });
  // The store reads stop when the call ends (cancelled, past its deadline) or the server drains.
  const controller = new AbortController();
  const abort = () => controller.abort();
  const signals = [context.signal, options.shutdownSignal].filter((signal) => signal !== undefined);
  for (const signal of signals) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener("abort", abort, { once: true });
  }
  let counted = false;
  try {
    const opened = await ledger.streamEntries(parsed.value, controller.signal);
    if (!opened.ok) throw toConnectError(opened.failure);
    // Counted once its start is fixed: from here on every new entry reaches this stream.
    options.observer?.opened();
    counted = true;
    let cursor = opened.value.startId;
    for await (const step of opened.value.steps) {
      if (step.type === "failed") throw streamEndedError(toConnectError(step.failure), cursor);
      cursor = step.entry.id;
      options.observer?.delivered();
      yield create(StreamEntriesResponseSchema, { entry: toLedgerEntry(step.entry), cursor });
    }
    if (options.shutdownSignal?.aborted === true) {
      throw streamEndedError(
        new ConnectError("the server is shutting down; resume from the cursor", Code.Unavailable),
        cursor,
      );
    }
  } finally {
    for (const signal of signals) signal.removeEventListener("abort", abort);
    if (counted) options.observer?.closed();
  }
}

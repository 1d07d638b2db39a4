/**
 * StreamEntries over Connect, gRPC-Web and native gRPC: decodes the request, opens the ledger's
 * stream and turns each step into a `StreamEntriesResponse`. The messages are produced only when
 * the transport asks for the next one (connect-node and the native adapter both wait for the
 * previous write to drain), so flow control reaches all the way to the store reads.
 *
 * The time from handing the transport a message to its asking for the next one is how long the
 * consumer has not taken what was written. When that passes `stallTimeoutMs` while entries wait,
 * the consumer is cut: the store reads stop and the page is dropped at once, and the transport's
 * next pull ends the call with RESOURCE_EXHAUSTED, reason STREAM_CONSUMER_TOO_SLOW and the cursor
 * of the last entry handed out, after the messages already written (so resuming from it leaves
 * no gap and no duplicate). A consumer that keeps reading, however slowly, keeps the transport
 * pulling and is never cut; an idle stream waits for entries, not for the consumer.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { parseStreamRequest, type EntryStream } from "../domain/entry-stream.js";
import type { Ledger } from "../domain/ledger.js";
import {
  StreamEntriesResponseSchema,
  type StreamEntriesRequest,
  type StreamEntriesResponse,
} from "../../gen/ledger/v1/ledger_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
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
  /**
   * How long the transport may leave a written message untaken while entries wait before the
   * consumer is cut, in milliseconds (LEDGER_STREAM_STALL_TIMEOUT_MS). Default 30000.
   */
  readonly stallTimeoutMs?: number;
}

/** The default of `EntryStreamOptions.stallTimeoutMs`, in milliseconds. */
export const STREAM_STALL_TIMEOUT_MS_DEFAULT = 30_000;

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
  let stopWatch: (() => void) | undefined;
  try {
    const opened = await ledger.streamEntries(parsed.value, controller.signal);
    if (!opened.ok) throw toConnectError(opened.failure);
    // Counted once its start is fixed: from here on every new entry reaches this stream.
    options.observer?.opened();
    counted = true;
    const stream = opened.value;
    const watch = new StallWatch(stream, options.stallTimeoutMs ?? STREAM_STALL_TIMEOUT_MS_DEFAULT, controller);
    stopWatch = () => watch.stop();
    let cursor = stream.startId;
    for await (const step of stream.steps) {
      if (step.type === "failed") throw streamEndedError(toConnectError(step.failure), cursor);
      cursor = step.entry.id;
      options.observer?.delivered();
      watch.start();
      yield create(StreamEntriesResponseSchema, { entry: toLedgerEntry(step.entry), cursor });
      watch.stop();
      if (watch.stalled) throw consumerTooSlowError(watch.timeoutMs, cursor);
    }
    if (options.shutdownSignal?.aborted === true) {
      throw streamEndedError(
        new ConnectError("the server is shutting down; resume from the cursor", Code.Unavailable),
        cursor,
      );
    }
  } finally {
    stopWatch?.();
    for (const signal of signals) signal.removeEventListener("abort", abort);
    if (counted) options.observer?.closed();
  }
}

/**
 * Times one written message until the transport pulls the next. When the time runs out while
 * entries wait, the stream is marked stalled and its reads stop (the aborted signal, and the
 * steps returned, which drops the page); with nothing waiting it keeps watching, since a
 * consumer is only too slow for entries it is not taking.
 */
class StallWatch {
  private timer: NodeJS.Timeout | undefined;
  /** Moves at every start and stop, so that a check still in flight knows it is stale. */
  private armed = 0;
  stalled = false;

  constructor(
    private readonly stream: EntryStream,
    readonly timeoutMs: number,
    private readonly reads: AbortController,
  ) {}

  start(): void {
    this.armed += 1;
    const armed = this.armed;
    // Unreferenced: a call whose transport never asks again must not keep a stopping process up.
    this.timer = setTimeout(() => void this.expire(armed), this.timeoutMs).unref();
  }

  stop(): void {
    this.armed += 1;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async expire(armed: number): Promise<void> {
    this.timer = undefined;
    const waiting = await this.stream.waiting();
    // The transport took the message while the horizon was read: the consumer is reading.
    if (armed !== this.armed) return;
    if (!waiting) {
      this.start();
      return;
    }
    this.stalled = true;
    this.reads.abort();
    // The steps are suspended at the entry just handed out; returning them ends their reads.
    void this.stream.steps.return(undefined);
  }
}

function consumerTooSlowError(timeoutMs: number, cursor: bigint): ConnectError {
  const tooSlow = new ConnectError(
    `the consumer took no message for ${timeoutMs} ms while entries were waiting; ` +
      "resume with after_entry_id = the cursor",
    Code.ResourceExhausted,
    undefined,
    [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "STREAM_CONSUMER_TOO_SLOW" }) }],
  );
  return streamEndedError(tooSlow, cursor);
}

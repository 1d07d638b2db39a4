/**
 * The requests of a client-streaming or bidi call as the async iterable a connect handler reads.
 * It holds at most `REQUESTS_QUEUED_MAX` decoded messages: past that the HTTP/2 stream is paused,
 * so HTTP/2 flow control holds the caller back instead of our memory growing.
 */
import type { ServerHttp2Stream } from "node:http2";

/** Most decoded requests waiting for the handler before reading pauses. */
export const REQUESTS_QUEUED_MAX = 16;

export class RequestQueue implements AsyncIterable<unknown> {
  private readonly queued: unknown[] = [];
  private ended = false;
  private waiting: ((result: IteratorResult<unknown>) => void) | undefined;

  constructor(private readonly stream: ServerHttp2Stream) {}

  push(message: unknown): void {
    if (this.ended) return;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting({ value: message, done: false });
      return;
    }
    this.queued.push(message);
    if (this.queued.length >= REQUESTS_QUEUED_MAX) this.stream.pause();
  }

  /** No more requests: the caller half-closed, or the call is over. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // What the caller still sends after the call is over is read and dropped.
    this.stream.resume();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: () => {
        if (this.queued.length > 0) {
          const value = this.queued.shift();
          if (this.queued.length < REQUESTS_QUEUED_MAX && !this.ended) this.stream.resume();
          return Promise.resolve({ value, done: false });
        }
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      // The handler stopped reading (it answered early): the call's end drains the rest.
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

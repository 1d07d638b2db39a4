/**
 * Operating errors of a store: expected, handled, and mapped to gRPC codes by `src/rpc`.
 * Their messages are written for callers; the driver's own error stays in `cause` for the logs.
 */

/** The store could not commit (disk full, I/O error, database locked or closed). Retryable. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A COMMIT failed in a way that may still have made it durable (an fsync error can leave the
 * commit's frames in the WAL for recovery to replay): the caller cannot know whether the write
 * applied. Retryable only with the same idempotency key, whose replay says which it was.
 */
export class StoreOutcomeUnknownError extends Error {
  override readonly name = "StoreOutcomeUnknownError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The write queue is at its bound: the caller should back off and retry. */
export class StoreOverloadedError extends Error {
  override readonly name = "StoreOverloadedError";
  constructor(message: string) {
    super(message);
  }
}

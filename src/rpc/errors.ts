/**
 * The one error table: every domain failure becomes a `ConnectError` with the right gRPC code, a
 * message written for the caller, and `google.rpc` details a client can act on. Nothing else in
 * the service builds caller-facing errors, and no driver or SQL text ever reaches one.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { LedgerFailure } from "../domain/outcome.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** `google.rpc.ErrorInfo.domain` of every error this service sends. */
export const ERROR_DOMAIN = "ledger.v1";

/** A detail this service attaches to an error (connect-es does not export the type). */
type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

/** How long a caller should wait before retrying a transient failure. */
const RETRY_DELAY_MS = 1000;

function errorInfo(reason: string, metadata: Record<string, string> = {}) {
  return { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata }) };
}

function retryInfo() {
  return { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(RETRY_DELAY_MS) }) };
}

/**
 * An operating error is an answer, not a bug: its stack trace (captured by every Error, and 2.4%
 * of the server's time in a profile of the wallet over HTTP/1.1, where half the calls fail) says
 * nothing a caller or operator can use, so it is not captured.
 */
export function toConnectError(failure: LedgerFailure): ConnectError {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return buildConnectError(failure);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * `extra` is added to the ErrorInfo metadata of refusals: a batch's failure is its item's
 * refusal with `item_index` added, so a client handles both with the same code.
 */
function buildConnectError(failure: LedgerFailure, extra: Record<string, string> = {}): ConnectError {
  switch (failure.kind) {
    case "batch_item_failed": {
      const item = buildConnectError(failure.failure, { ...extra, item_index: String(failure.itemIndex) });
      return new ConnectError(
        `batch item ${failure.itemIndex} failed, so nothing was applied: ${item.rawMessage}`,
        item.code,
        undefined,
        // Built just above from our own details, so every one is outgoing (has its schema).
        item.details.filter((detail): detail is OutgoingDetail => "desc" in detail),
      );
    }
    case "invalid_argument": {
      const fieldViolations = failure.violations.map((violation) => ({ ...violation }));
      const summary = failure.violations.map((violation) => violation.description).join("; ");
      return new ConnectError(`invalid request: ${summary}`, Code.InvalidArgument, undefined, [
        { desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations }) },
        errorInfo("INVALID_ARGUMENT", extra),
      ]);
    }
    case "insufficient_funds":
      return new ConnectError(
        failure.available === failure.balance
          ? `insufficient funds: the balance ${failure.balance} does not cover ${-failure.amount}`
          : `insufficient funds: the available balance ${failure.available} (balance ${failure.balance} minus holds) does not cover ${-failure.amount}`,
        Code.FailedPrecondition,
        undefined,
        [
          errorInfo("INSUFFICIENT_FUNDS", {
            ...extra,
            balance: String(failure.balance),
            available: String(failure.available),
            overdraft_limit: "0",
            amount: String(failure.amount),
          }),
        ],
      );
    case "hold_not_found":
      return new ConnectError(`this user has no hold with id ${failure.holdId}`, Code.NotFound, undefined, [
        errorInfo("HOLD_NOT_FOUND", { ...extra, hold_id: String(failure.holdId) }),
      ]);
    case "hold_refused":
      return new ConnectError(holdMessage(failure), Code.FailedPrecondition, undefined, [
        errorInfo(failure.reason.toUpperCase(), {
          ...extra,
          hold_id: String(failure.holdId),
          hold_amount: String(failure.amount),
          captured: String(failure.captured),
          remaining: String(failure.remaining),
          capture_limit: String(failure.captureLimit),
        }),
      ]);
    case "account_policy":
      return new ConnectError(policyMessage(failure), Code.FailedPrecondition, undefined, [
        errorInfo(failure.reason.toUpperCase(), {
          ...extra,
          available: String(failure.available),
          overdraft_limit: String(failure.overdraftLimit),
          amount: String(failure.amount),
        }),
      ]);
    case "balance_overflow":
      return new ConnectError(
        "the result would exceed the largest amount an account can hold (2^63-1 minor units)",
        Code.OutOfRange,
        undefined,
        [errorInfo("BALANCE_OVERFLOW", extra)],
      );
    case "idempotency_key_reused":
      return new ConnectError(
        `this idempotency_key was already used by this user for a different request: its ${failure.field} differs`,
        Code.AlreadyExists,
        undefined,
        [errorInfo("IDEMPOTENCY_KEY_REUSED", { idempotency_key: failure.idempotencyKey, field: failure.field })],
      );
    case "account_not_found":
      return new ConnectError(
        failure.currency === null
          ? `no account for user ${failure.userId}`
          : `no ${failure.currency} account for user ${failure.userId}`,
        Code.NotFound,
        undefined,
        [
          errorInfo("ACCOUNT_NOT_FOUND", {
            user_id: failure.userId,
            ...(failure.currency === null ? {} : { currency: failure.currency }),
          }),
        ],
      );
    case "entry_not_found":
      return new ConnectError(`no entry with id ${failure.entryId}`, Code.NotFound, undefined, [
        errorInfo("ENTRY_NOT_FOUND", { entry_id: String(failure.entryId) }),
      ]);
    case "unavailable":
      return new ConnectError(failure.message, Code.Unavailable, undefined, [
        errorInfo("STORE_UNAVAILABLE"),
        retryInfo(),
      ]);
    case "outcome_unknown":
      return new ConnectError(failure.message, Code.Unavailable, undefined, [
        errorInfo("OUTCOME_UNKNOWN"),
        retryInfo(),
      ]);
    case "overloaded":
      return new ConnectError(failure.message, Code.ResourceExhausted, undefined, [
        errorInfo("OVERLOADED"),
        retryInfo(),
      ]);
  }
}

function policyMessage(failure: Extract<LedgerFailure, { kind: "account_policy" }>): string {
  switch (failure.reason) {
    case "account_frozen":
      return "the account is frozen: it accepts credits only";
    case "account_closed":
      return "the account is closed: it accepts no mutation";
    case "overdraft_limit_exceeded":
      return `overdraft limit exceeded: the available balance ${failure.available} minus ${-failure.amount} would go below -${failure.overdraftLimit}`;
  }
}

function holdMessage(failure: Extract<LedgerFailure, { kind: "hold_refused" }>): string {
  switch (failure.reason) {
    case "hold_voided":
      return `hold ${failure.holdId} was voided: nothing is left to capture or release`;
    case "hold_expired":
      return `hold ${failure.holdId} has expired: its remainder is released`;
    case "hold_captured":
      return `hold ${failure.holdId} is fully captured`;
    case "capture_exceeds_hold":
      return `the capture would take hold ${failure.holdId} past ${failure.captureLimit} in total (${failure.captured} captured of ${failure.amount})`;
  }
}

/** The error for calls that arrive while the server drains. */
export function shuttingDownError(): ConnectError {
  return new ConnectError("the server is shutting down; retry on another instance", Code.Unavailable, undefined, [
    errorInfo("SHUTTING_DOWN"),
    retryInfo(),
  ]);
}

/** What a caller sees of a bug: a code and a reference, never the exception's text. */
export function internalError(): ConnectError {
  return new ConnectError("internal error; the incident was logged", Code.Internal, undefined, [errorInfo("INTERNAL")]);
}

/** No key, or a key the server does not know: the caller must authenticate. Not retryable. */
export function unauthenticatedError(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, undefined, [errorInfo("UNAUTHENTICATED")]);
}

/** A known key without the scope the method needs. Not retryable with the same key. */
export function permissionDeniedError(message: string, scope: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied, undefined, [errorInfo("PERMISSION_DENIED", { scope })]);
}

/**
 * A stream that ends early (the server drains, the store fails): the same code and reason, with
 * the cursor to resume after (the last entry id sent, or where the stream started) in ErrorInfo
 * metadata, and a retry delay: the consumer reconnects with after_entry_id = cursor.
 */
export function streamEndedError(error: ConnectError, cursor: bigint): ConnectError {
  const reason = error.findDetails(ErrorInfoSchema)[0]?.reason ?? "SHUTTING_DOWN";
  return new ConnectError(error.rawMessage, error.code, undefined, [
    errorInfo(reason, { cursor: String(cursor) }),
    retryInfo(),
  ]);
}

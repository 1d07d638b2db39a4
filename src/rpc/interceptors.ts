/**
 * What every call passes through: refusal while the server drains, one log line with method,
 * code and duration, and the last line of defence that turns an unexpected exception into a bare
 * INTERNAL, so that no stack trace, driver message or SQL reaches a caller.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logger.js";
import { AccessLog, methodName } from "./access-log.js";
import { internalError, shuttingDownError } from "./errors.js";

/** Counts calls in flight, and refuses new ones once draining starts. */
export class CallGate {
  private inFlight = 0;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  get callsInFlight(): number {
    return this.inFlight;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops admitting calls; resolves when the last admitted call has finished. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  enter(): boolean {
    if (this.draining) return false;
    this.inFlight += 1;
    return true;
  }

  leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.draining) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}

// Services whose calls stay open until the server ends them; they must not hold shutdown up.
const LONG_LIVED = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/**
 * Told how every call ended (metrics). A streaming call counts when its handler has returned the
 * stream, as the log line does, not when the stream ends.
 */
export interface CallObserver {
  /** The recorder of one method: looked up on every call, so it should be a map lookup. */
  of(service: DescService, method: DescMethod): MethodCallRecorder;
}

export interface MethodCallRecorder {
  /** `code` is the gRPC status code: 0 for OK (which Connect's `Code` leaves out), else a `Code`. */
  record(code: Code | 0, durationMs: number): void;
}

export function callInterceptor(gate: CallGate, logger: Logger, observer?: CallObserver): Interceptor {
  const accessLog = new AccessLog(logger);
  return (next) => async (request) => {
    const log = accessLog.of(request.service, request.method);
    const recorder = observer?.of(request.service, request.method);
    const tracked = !LONG_LIVED.has(request.service.typeName);
    if (tracked && !gate.enter()) {
      const refused = shuttingDownError();
      log(codeName(refused.code), 0);
      recorder?.record(refused.code, 0);
      throw refused;
    }
    const startedAt = performance.now();
    try {
      const response = await next(request);
      const durationMs = performance.now() - startedAt;
      log("OK", roundMs(durationMs));
      recorder?.record(0, durationMs);
      return response;
    } catch (error) {
      const connectError = error instanceof ConnectError && error.code !== Code.Internal && error.code !== Code.Unknown;
      const thrown = connectError ? error : internalError();
      recorder?.record(thrown.code, performance.now() - startedAt);
      if (connectError) {
        log(codeName(thrown.code), elapsedMs(startedAt));
      } else {
        // The exception may carry anything: this line goes through the redacting logger.
        const method = methodName(request.service, request.method);
        logger.error(
          { method, code: codeName(thrown.code), durationMs: elapsedMs(startedAt), err: error },
          "call failed unexpectedly",
        );
      }
      throw thrown;
    } finally {
      if (tracked) gate.leave();
    }
  };
}

/** The canonical gRPC name of a code, as operators grep for it: FAILED_PRECONDITION. */
export function codeName(code: Code): string {
  return CODE_NAMES.get(code) ?? spelled(code);
}

function spelled(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Spelled once, not per call. */
const CODE_NAMES = new Map(
  Object.values(Code)
    .filter((code): code is Code => typeof code === "number")
    .map((code) => [code, spelled(code)]),
);

function elapsedMs(startedAt: number): number {
  return roundMs(performance.now() - startedAt);
}

function roundMs(durationMs: number): number {
  return Math.round(durationMs * 1000) / 1000;
}

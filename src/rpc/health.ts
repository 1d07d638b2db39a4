/**
 * `grpc.health.v1.Health`: Check, List and Watch, as Kubernetes probes, grpc_health_probe and
 * load balancers call them. The empty service name stands for the server as a whole.
 */
import { EventEmitter, on } from "node:events";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
} from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** Serving status per service name, with change notifications for Watch. */
export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly changes = new EventEmitter();

  constructor(services: readonly string[]) {
    this.changes.setMaxListeners(0);
    for (const service of ["", ...services]) this.statuses.set(service, ServingStatus.SERVING);
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  all(): ReadonlyMap<string, ServingStatus> {
    return this.statuses;
  }

  /** Sets every service's status, e.g. NOT_SERVING when the server starts draining. */
  setAll(status: ServingStatus): void {
    for (const service of this.statuses.keys()) this.statuses.set(service, status);
    this.changes.emit("change");
  }

  /** Resolves on the next status change or when `signal` aborts (then with `false`). */
  async nextChange(signal: AbortSignal): Promise<boolean> {
    try {
      for await (const _ of on(this.changes, "change", { signal })) return true;
    } catch {
      // Aborted: the call ended.
    }
    return false;
  }
}

export class HealthServiceImpl implements ServiceImpl<typeof Health> {
  constructor(private readonly state: HealthState) {}

  check(request: HealthCheckRequest): HealthCheckResponse {
    return create(HealthCheckResponseSchema, { status: this.known(request.service) });
  }

  list(): HealthListResponse {
    const statuses: Record<string, HealthCheckResponse> = {};
    for (const [service, status] of this.state.all()) {
      statuses[service] = create(HealthCheckResponseSchema, { status });
    }
    return create(HealthListResponseSchema, { statuses });
  }

  /** Sends the status now and on every change, until the caller or the server ends the call. */
  async *watch(request: HealthCheckRequest, context: HandlerContext): AsyncIterable<HealthCheckResponse> {
    let last: ServingStatus | undefined;
    for (;;) {
      // Watch answers SERVICE_UNKNOWN for unknown services instead of failing, per the protocol.
      const status = this.state.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
      if (status !== last) {
        last = status;
        yield create(HealthCheckResponseSchema, { status });
      }
      if (!(await this.state.nextChange(context.signal))) return;
    }
  }

  private known(service: string): ServingStatus {
    const status = this.state.get(service);
    if (status === undefined) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
    return status;
  }
}

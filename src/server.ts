/**
 * Builds the service from its configuration: store, ledger, RPC handlers and the listener.
 * Nothing here listens until `listen()`; the entry point (`main.ts`) and the tests call it.
 */
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { storeOptions, type Config } from "./config.js";
import { Ledger } from "./domain/ledger.js";
import type { Logger } from "./logger.js";
import { HealthServiceImpl, HealthState, ServingStatus } from "./rpc/health.js";
import { HEALTHZ_DETAILS_PATH, serveHealthz } from "./rpc/healthz.js";
import { authInterceptor, checkCall } from "./rpc/auth.js";
import { connectAdapterWithJsonRules } from "./rpc/connect-adapter.js";
import { CallGate, callInterceptor } from "./rpc/interceptors.js";
import { METRICS_PATH, serveMetrics } from "./rpc/metrics-endpoint.js";
import { LedgerMetrics } from "./metrics/ledger-metrics.js";
import { loadKeyring } from "./rpc/keyring-loader.js";
import { loadTlsFiles } from "./rpc/tls-files.js";
import { LedgerServiceImpl } from "./rpc/ledger-service.js";
import { createHttpGateway } from "./rpc/gateway/http-gateway.js";
import { DualProtocolListener, type Handler, type Http2ConnectionSink } from "./rpc/listener.js";
import { withLeanUnary } from "./rpc/connect-http1/mount.js";
import { StalledConnections } from "./rpc/stalled-connections.js";
import { createNativeGrpcServer } from "./rpc/native-grpc/server.js";
import { createH2GrpcServer } from "./rpc/grpc-h2/server.js";
import { ReflectionV1AlphaImpl, ReflectionV1Impl, Reflector } from "./rpc/reflection.js";
import { startVendorPoller, type VendorPoller } from "./ingest/poller.js";
import { openStore } from "./store/open.js";
import { systemClock, type Clock } from "./clock.js";
import { ExpirySweeper } from "./holds/expiry-sweeper.js";
import type { LedgerStore } from "./store/store.js";
import { file_grpc_health_v1_health, Health } from "../gen/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection as ReflectionV1,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ReflectionV1Alpha,
} from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_ledger_v1_ledger, LedgerService } from "../gen/ledger/v1/ledger_pb.js";

/** The services this server offers, as reflection lists them. */
export const SERVICE_NAMES = [
  LedgerService.typeName,
  Health.typeName,
  ReflectionV1.typeName,
  ReflectionV1Alpha.typeName,
];

/** What GET /healthz/details counts as for authorization: not in the scope table, so `admin`. */
const HEALTHZ_DETAILS_METHOD = "ledger.v1.Operations/HealthDetails";

export interface App {
  readonly store: LedgerStore;
  readonly health: HealthState;
  readonly listener: DualProtocolListener;
  /** The vendor poller, once `listen()` has started it; only when LEDGER_VENDOR_URL is set. */
  readonly poller: () => VendorPoller | undefined;
  /** Releases expired holds; started by `listen()`, stopped by `shutdown()`. */
  readonly holdSweeper: ExpirySweeper;
  /**
   * Starts listening on the configured host and port (port 0 picks a free one), then the vendor
   * poller when one is configured.
   */
  listen(): Promise<AddressInfo>;
  /**
   * Graceful shutdown: health goes NOT_SERVING, new calls are refused, in-flight calls finish,
   * the store commits what it queued and closes; after `shutdownTimeoutMs` connections are cut.
   */
  shutdown(): Promise<void>;
}

export interface BuildOptions {
  /** Extra sections for GET /healthz, e.g. the vendor poller's status. */
  readonly healthDetails?: () => Record<string, unknown>;
  /**
   * Replaces the ledger service's implementation. The benchmark's "trivial handler" ceiling
   * uses it to measure our server stack without the store; nothing else should.
   */
  readonly ledgerService?: (ledger: Ledger) => ServiceImpl<typeof LedgerService>;
  /**
   * Called once after a COMMIT failed with an unknown outcome (the store refuses writes from
   * then on). The entry point shuts down and exits for its supervisor to restart the process.
   */
  readonly onFailStop?: (error: unknown) => void;
  /** The clock of commit times and hold expiry; the system clock unless a test injects one. */
  readonly clock?: Clock;
}

export async function build(config: Config, logger: Logger, options: BuildOptions = {}): Promise<App> {
  // Read the keys before opening the database, so a bad keys file fails start-up cleanly.
  const keyring = loadKeyring(config);
  const tls = loadTlsFiles(config);
  let failedStop = false;
  const failStop = (error: unknown) => {
    if (failedStop) return;
    failedStop = true;
    logger.fatal({ err: error }, "a commit failed with an unknown outcome; refusing writes and stopping for a restart");
    health.setAll(ServingStatus.NOT_SERVING);
    options.onFailStop?.(error);
  };
  const metrics =
    config.metrics === "on" ? new LedgerMetrics([LedgerService, Health, ReflectionV1, ReflectionV1Alpha]) : undefined;
  const clock = options.clock ?? systemClock;
  const store = await openStore(storeOptions(config), {
    onFailStop: (error) => failStop(error),
    ...(metrics === undefined ? {} : { writeObserver: metrics.writes }),
    ...(options.clock === undefined ? {} : { clockMs: () => clock.nowMs() }),
  });
  const ledger = new Ledger(store, {
    defaultCurrency: config.defaultCurrency,
    amountMinorMax: config.amountMinorMax,
    holds: config.holds,
    clockMs: () => clock.nowMs(),
    batchItemsMax: config.batchItemsMax,
  });
  const holdSweeper = new ExpirySweeper(ledger.holds, clock, config.holds, logger.child({ component: "holds" }));
  const health = new HealthState(SERVICE_NAMES);
  const gate = new CallGate();
  const shutdownController = new AbortController();
  // Every call in flight listens on this signal: the default cap of 10 listeners is for leaks
  // in ordinary code, not for a server with thousands of concurrent calls.
  setMaxListeners(0, shutdownController.signal);
  const reflector = new Reflector(
    [
      file_ledger_v1_ledger,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
    ],
    SERVICE_NAMES,
  );

  // One instance of each implementation serves both transports.
  const services: { service: DescService; impl: object }[] = [
    {
      service: LedgerService,
      impl:
        options.ledgerService?.(ledger) ??
        new LedgerServiceImpl(ledger, {
          shutdownSignal: shutdownController.signal,
          stallTimeoutMs: config.streamStallTimeoutMs,
          ...(metrics === undefined ? {} : { observer: metrics.streams }),
        }),
    },
    { service: Health, impl: new HealthServiceImpl(health) },
    { service: ReflectionV1, impl: new ReflectionV1Impl(reflector) },
    { service: ReflectionV1Alpha, impl: new ReflectionV1AlphaImpl(reflector) },
  ];
  const routes = (router: ConnectRouter) => {
    for (const { service, impl } of services) router.service(service, impl);
  };
  // The same interceptors, in the same order, on both transports: one log line per call,
  // refusal while draining, masking of unexpected errors, and the auth check.
  // The call interceptor wraps the auth check, so refusals are logged (by code, never the key).
  const interceptors = [callInterceptor(gate, logger, metrics?.calls), authInterceptor(keyring)];
  const healthzSource = {
    ping: () => store.ping(),
    isDraining: () => gate.isDraining,
    details: () => ({
      writeQueueDepth: store.writeQueueDepth,
      callsInFlight: gate.callsInFlight,
      ...(poller === undefined ? {} : { ingest: poller.status() }),
      ...options.healthDetails?.(),
    }),
    // The details are an operations method: `admin` under the same rule as every RPC.
    authorizeDetails: (authorization: string | undefined) => {
      const decision = checkCall(keyring, HEALTHZ_DETAILS_METHOD, authorization);
      if (decision.ok) return null;
      return {
        status: decision.code === "unauthenticated" ? (401 as const) : (403 as const),
        message: decision.message,
      };
    },
  };
  // connect-node, the lean HTTP/1.1 path and the REST gateway read the same options, so they
  // answer alike.
  const routerOptions = {
    interceptors,
    // A ledger's JSON should say "spent": "0", not leave the reader to know proto3 defaults.
    jsonOptions: { alwaysEmitImplicit: true },
    readMaxBytes: config.readMaxBytes,
    writeMaxBytes: config.writeMaxBytes,
    shutdownSignal: shutdownController.signal,
  };
  // REST routes from the proto's annotations, the seeds' compat routes, GET /openapi.json: all
  // through the same services, interceptors and error table as Connect.
  const gateway = createHttpGateway({
    routes,
    routerOptions,
    services: [LedgerService],
    compat: config.compat,
    defaultCurrency: config.defaultCurrency,
    logger,
  });
  const connectHandler = connectAdapterWithJsonRules({
    ...routerOptions,
    routes,
    fallback: (request, response) => {
      if (gateway(request, response)) return;
      const path = request.url?.split("?")[0];
      if (path === "/healthz" || path === HEALTHZ_DETAILS_PATH) {
        void serveHealthz(healthzSource, request, response, path === HEALTHZ_DETAILS_PATH);
        return;
      }
      if (path === METRICS_PATH && metrics !== undefined) {
        const onError = (error: unknown) => logger.error({ err: error }, "collecting the metrics failed");
        void serveMetrics({ source: metrics, keyring, open: config.metricsOpen, onError }, request, response);
        return;
      }
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ code: "not_found", message: `no route for ${request.method} ${path}` }));
    },
  }) as Handler;
  const handler =
    config.http1Unary === "lean" ? withLeanUnary(connectHandler, { ...routerOptions, services }) : connectHandler;
  const nativeGrpc = nativeGrpcSink(config, { services, interceptors, shutdownSignal: shutdownController.signal });
  const stalled = new StalledConnections(logger);
  const listener = new DualProtocolListener(handler, {
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    onStalled: (kind) => stalled.count(kind),
    connectionsMax: config.connectionsMax,
    streamsPerConnectionMax: config.streamsPerConnectionMax,
    ...(nativeGrpc === undefined ? {} : { http2Sink: nativeGrpc }),
    ...(tls === undefined ? {} : { tls }),
  });

  let poller: VendorPoller | undefined;
  metrics?.watch({
    writeQueueDepth: () => store.writeQueueDepth,
    callsInFlight: () => gate.callsInFlight,
    openConnections: () => listener.connectionCount,
    ...(config.vendor === undefined ? {} : { ingest: () => poller?.status() }),
  });
  const listen = async () => {
    const address = await listener.listen(config.port, config.host);
    holdSweeper.start();
    if (config.vendor !== undefined) {
      poller = startVendorPoller({ store, config: config.vendor, logger: logger.child({ component: "ingest" }) });
    }
    return address;
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = async () => {
    health.setAll(ServingStatus.NOT_SERVING);
    const drained = gate.drain();
    // Long-lived streams (Watch, reflection) end now; unary calls run to completion.
    shutdownController.abort();
    const stopped = listener.stopAccepting();
    const inTime = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.shutdownTimeoutMs).unref()),
    ]);
    if (!inTime) logger.warn({ callsInFlight: gate.callsInFlight }, "shutdown deadline passed; cutting connections");
    const closed = await listener.waitForConnectionsClosed(inTime ? Math.min(2000, config.shutdownTimeoutMs) : 0);
    if (!closed) await listener.destroyAll();
    await stopped;
    // The poller commits a page and its cursor together; stopping lets a commit in flight land.
    await poller?.stop();
    await holdSweeper.stop();
    await store.close();
    stalled.flush();
  };

  return {
    store,
    health,
    listener,
    poller: () => poller,
    holdSweeper,
    listen,
    shutdown: () => (shuttingDown ??= shutdown()),
  };
}

/**
 * The engine that takes cleartext HTTP/2 (LEDGER_GRPC_SERVER): our own gRPC framing on
 * node:http2, or grpc-js; none lets connect-node take it.
 */
function nativeGrpcSink(
  config: Config,
  wiring: {
    services: readonly { service: DescService; impl: object }[];
    interceptors: readonly Interceptor[];
    shutdownSignal: AbortSignal;
  },
): Http2ConnectionSink | undefined {
  if (config.grpcServer === "connect") return undefined;
  const options = {
    ...wiring,
    readMaxBytes: config.readMaxBytes,
    writeMaxBytes: config.writeMaxBytes,
    streamsPerConnectionMax: config.streamsPerConnectionMax,
    idleTimeoutMs: config.idleTimeoutMs,
  };
  return config.grpcServer === "http2" ? createH2GrpcServer(options) : createNativeGrpcServer(options).injector;
}

/**
 * One server under test, in its own process: the ledger as `npm start` runs it, or one of the
 * ceilings the ledger's figures are divided by.
 *
 * - `ledger`: the real service on a fresh database (LEDGER_* settings from the environment).
 * - `trivial-stack`: the same server stack (listener, the native gRPC engine, interceptors, logging)
 *   with a LedgerService that answers at once without the store.
 * - `trivial-grpc-js`: a bare @grpc/grpc-js server that decodes the request and sends a fixed
 *   answer: what a Node gRPC server costs with nothing of ours in it.
 * - `trivial-node-http`: a bare `node:http` server that reads the body and sends a fixed JSON
 *   answer: what a Node HTTP/1.1 server costs, the ceiling of the HTTP callers' rows.
 *
 * It tells its parent its port over IPC and shuts down gracefully on "stop", so that a CPU
 * profile (`--cpu-prof`) is written on exit.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import type { ServiceImpl } from "@connectrpc/connect";
import { readConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { build } from "../src/server.js";
import {
  AdjustBalanceResponseSchema,
  GetBalanceResponseSchema,
  LedgerService,
  LoadResponseSchema,
} from "../gen/ledger/v1/ledger_pb.js";

export type ServerMode = "ledger" | "trivial-stack" | "trivial-grpc-js" | "trivial-node-http";

/** Answers every call at once with a fixed response: the "no store" ceiling. */
function trivialLedger(): ServiceImpl<typeof LedgerService> {
  const adjusted = create(AdjustBalanceResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n });
  const loaded = create(LoadResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n });
  return {
    load: () => loaded,
    adjustBalance: () => adjusted,
    authorize: () => ({}),
    transfer: () => ({}),
    setAccountPolicy: () => ({}),
    getBalance: () => create(GetBalanceResponseSchema, {}),
    getPayouts: () => ({}),
    listEntries: () => ({}),
    getEntry: () => ({}),
    capture: () => ({}),
    void: () => ({}),
    streamEntries: async function* () {},
    applyBatch: () => ({}),
  };
}

async function startLedger(mode: ServerMode): Promise<{ port: number; stop: () => Promise<void> }> {
  const config = readConfig(process.env);
  const logger = createLogger(config.logLevel);
  const app = await build(config, logger, mode === "trivial-stack" ? { ledgerService: trivialLedger } : {});
  const { port } = await app.listen();
  return {
    port,
    stop: async () => {
      await app.shutdown();
      logger.flush();
    },
  };
}

async function startBareGrpcJs(): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  const answer = Buffer.from(
    toBinary(
      AdjustBalanceResponseSchema,
      create(AdjustBalanceResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n }),
    ),
  );
  for (const method of [LedgerService.method.load, LedgerService.method.adjustBalance]) {
    server.register(
      `/${LedgerService.typeName}/${method.name}`,
      (_call: grpc.ServerUnaryCall<unknown, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, answer),
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => fromBinary(method.input, bytes),
      "unary",
    );
  }
  const host = process.env.LEDGER_HOST ?? "127.0.0.1";
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

async function startBareNodeHttp(): Promise<{ port: number; stop: () => Promise<void> }> {
  const answer = JSON.stringify({ userId: "u", currency: "USD", amount: "1", balanceAfter: "1" });
  const server = createServer((request, response) => {
    request.on("data", () => {});
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(answer);
    });
  });
  server.keepAliveTimeout = 60_000;
  const host = process.env.LEDGER_HOST ?? "127.0.0.1";
  // The same accept backlog as our listener, so a burst of connections meets the same queue.
  const backlog = Number(process.env.LEDGER_CONNECTIONS_MAX ?? 16_384);
  await new Promise<void>((resolve) => server.listen({ port: 0, host, backlog }, resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const mode = (process.argv[2] ?? "ledger") as ServerMode;
const started =
  mode === "trivial-grpc-js"
    ? await startBareGrpcJs()
    : mode === "trivial-node-http"
      ? await startBareNodeHttp()
      : await startLedger(mode);
process.on("message", (message: string) => {
  if (message !== "stop") return;
  void started.stop().then(() => process.exit(0));
});
process.send?.({ port: started.port });

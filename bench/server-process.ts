/**
 * One server under test, in its own process: the ledger as `npm start` runs it, or one of the
 * ceilings the ledger's figures are divided by.
 *
 * - `ledger`: the real service on a fresh database (LEDGER_* settings from the environment).
 * - `trivial-stack`: the same server stack (listener, grpc-js adapter, interceptors, logging)
 *   with a LedgerService that answers at once without the store.
 * - `trivial-grpc-js`: a bare @grpc/grpc-js server that decodes the request and sends a fixed
 *   answer: what a Node gRPC server costs with nothing of ours in it.
 *
 * It tells its parent its port over IPC and shuts down gracefully on "stop", so that a CPU
 * profile (`--cpu-prof`) is written on exit.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
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

export type ServerMode = "ledger" | "trivial-stack" | "trivial-grpc-js";

/** Answers every call at once with a fixed response: the "no store" ceiling. */
function trivialLedger(): ServiceImpl<typeof LedgerService> {
  const adjusted = create(AdjustBalanceResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n });
  const loaded = create(LoadResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n });
  return {
    load: () => loaded,
    adjustBalance: () => adjusted,
    authorize: () => ({}),
    getBalance: () => create(GetBalanceResponseSchema, {}),
    getPayouts: () => ({}),
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
  const answer = Buffer.from(toBinary(AdjustBalanceResponseSchema, create(AdjustBalanceResponseSchema, { userId: "u", currency: "USD", amount: 1n, balanceAfter: 1n })));
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
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

const mode = (process.argv[2] ?? "ledger") as ServerMode;
const started = mode === "trivial-grpc-js" ? await startBareGrpcJs() : await startLedger(mode);
process.on("message", (message: string) => {
  if (message !== "stop") return;
  void started.stop().then(() => process.exit(0));
});
process.send?.({ port: started.port });

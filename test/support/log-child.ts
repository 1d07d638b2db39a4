/**
 * A child process for test/integration/access-log.test.ts: builds the service's logger, writes
 * access-log lines through the call interceptor, then ends as the argument says ("exit" or
 * "crash"), so the test can see which lines reached stdout; "linger" stays up until killed.
 */
import { createLogger, flushLogsOnCrash } from "../../src/logger.js";
import { CallGate, callInterceptor } from "../../src/rpc/interceptors.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import type { UnaryRequest, UnaryResponse } from "@connectrpc/connect";

const [ending = "exit", countText = "1000"] = process.argv.slice(2);
const logger = createLogger("info");
flushLogsOnCrash(logger);
const call = callInterceptor(new CallGate(), logger)(() => Promise.resolve({} as UnaryResponse));
const request = {
  service: LedgerService,
  method: LedgerService.method.load,
  header: new Headers({ authorization: "Bearer secret-key" }),
} as unknown as UnaryRequest;
for (let index = 0; index < Number(countText); index++) await call(request);
logger.info({ token: "secret-token" }, "last line before the end");
if (ending === "crash") throw new Error("a programmer's bug");
if (ending === "linger") setTimeout(() => undefined, 60_000);

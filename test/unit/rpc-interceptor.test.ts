/**
 * The edge's last line of defence: an unexpected exception reaches the caller as a bare
 * INTERNAL, never with its text; operating errors pass through unchanged.
 */
import { expect } from "chai";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UnaryRequest } from "@connectrpc/connect";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { createLogger } from "../../src/logger.js";
import { CallGate, callInterceptor, codeName } from "../../src/rpc/interceptors.js";

const request = {
  service: LedgerService,
  method: LedgerService.method.load,
} as unknown as UnaryRequest;

async function thrownBy(failure: Error, gate = new CallGate()): Promise<ConnectError> {
  const handler = callInterceptor(gate, createLogger("silent"))(() => Promise.reject(failure));
  try {
    await handler(request);
  } catch (error) {
    return error as ConnectError;
  }
  throw new Error("expected the call to fail");
}

describe("callInterceptor", () => {
  it("masks an unexpected exception as INTERNAL without its message", async () => {
    const error = await thrownBy(new Error("SQLITE_ERROR: no such column: secret in SELECT * FROM accounts"));
    expect(error.code).to.equal(Code.Internal);
    expect(error.message).to.not.match(/SQL|secret|column/);
  });

  it("masks a ConnectError that carries INTERNAL or UNKNOWN too", async () => {
    const error = await thrownBy(new ConnectError("driver said: disk I/O error at page 7", Code.Unknown));
    expect(error.code).to.equal(Code.Internal);
    expect(error.message).to.not.contain("driver");
  });

  it("passes operating errors through", async () => {
    const error = await thrownBy(new ConnectError("insufficient funds", Code.FailedPrecondition));
    expect(error.code).to.equal(Code.FailedPrecondition);
    expect(error.rawMessage).to.equal("insufficient funds");
  });

  it("refuses calls with UNAVAILABLE once the gate drains, and counts calls in flight", async () => {
    const gate = new CallGate();
    await gate.drain();
    const error = await thrownBy(new Error("never reached"), gate);
    expect(error.code).to.equal(Code.Unavailable);
    expect(gate.callsInFlight).to.equal(0);
  });

  it("names codes as gRPC does", () => {
    expect(codeName(Code.FailedPrecondition)).to.equal("FAILED_PRECONDITION");
    expect(codeName(Code.ResourceExhausted)).to.equal("RESOURCE_EXHAUSTED");
  });
});

/**
 * The requests of each scenario, encoded once before the clock starts so that the driver spends
 * its core on calls, not on encoding. Call `i` of a run sends `requests[i % requests.length]`.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";

export type WorkloadName = "wallet" | "wallet-http" | "spread-writes" | "hot-writes" | "reads";

/** How many accounts the spread workloads touch. */
export const ACCOUNT_COUNT = 1000;
export const WALLET_USER = "wallet";
/** The HTTP callers' wallet: its own account, so the gRPC run leaves it untouched. */
export const HTTP_WALLET_USER = "wallet-http";
export const HOT_USER = "hot";
/** Where a wallet's server warms up (Load calls), away from the wallet's own account and method. */
export const WARMUP_USER = "warm-up";

export interface EncodedCall {
  /** "/ledger.v1.LedgerService/AdjustBalance" */
  readonly path: string;
  readonly body: Buffer;
  /** The same request as Connect JSON, for HTTP callers. */
  readonly json: string;
}

const method = LedgerService.method;

function encode<I extends DescMessage>(
  m: { parent: { typeName: string }; name: string; input: I },
  init: MessageInitShape<I>,
  json: object,
): EncodedCall {
  return {
    path: `/${m.parent.typeName}/${m.name}`,
    body: Buffer.from(toBinary(m.input, create(m.input, init))),
    json: JSON.stringify(json),
  };
}

/** Writes alternate Load(1) and AdjustBalance(+1): both are mutations that always succeed. */
function writesOn(userId: (index: number) => string, count: number): EncodedCall[] {
  return Array.from({ length: count }, (_, index) =>
    index % 2 === 0
      ? encode(method.load, { userId: userId(index), amount: 1n }, { userId: userId(index), amount: "1" })
      : encode(method.adjustBalance, { userId: userId(index), amount: 1n }, { userId: userId(index), amount: "1" }),
  );
}

export function workload(name: WorkloadName): EncodedCall[] {
  switch (name) {
    case "wallet":
      return [
        encode(method.adjustBalance, { userId: WALLET_USER, amount: -2n }, { userId: WALLET_USER, amount: "-2" }),
      ];
    case "wallet-http":
      return [
        encode(
          method.adjustBalance,
          { userId: HTTP_WALLET_USER, amount: -2n },
          { userId: HTTP_WALLET_USER, amount: "-2" },
        ),
      ];
    case "spread-writes":
      // Accounts in an order that is not the order of their calls' neighbours.
      return writesOn((index) => accountName((index * 7919) % ACCOUNT_COUNT), 2 * ACCOUNT_COUNT);
    case "hot-writes":
      return writesOn(() => HOT_USER, 2);
    case "reads":
      return Array.from({ length: ACCOUNT_COUNT }, (_, index) =>
        encode(method.getBalance, { userId: accountName(index) }, { userId: accountName(index) }),
      );
  }
}

export function accountName(index: number): string {
  return `acct-${String(index).padStart(4, "0")}`;
}

/** The warm-up call of a wallet's server: Load(1) on its own account, never the wallet's. */
export function warmupCall(): EncodedCall {
  return encode(method.load, { userId: WARMUP_USER, amount: 1n }, { userId: WARMUP_USER, amount: "1" });
}

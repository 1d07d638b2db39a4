/**
 * The wallet scenarios' exactness: 10,000 debits of 2 on an account loaded with 10,000 must give
 * exactly 5,000 OK, 5,000 FAILED_PRECONDITION and a final balance of 0, in every run. Three
 * witnesses must agree: the final balance (read back over gRPC), the server's own access log
 * (one line per call with its gRPC code; h2load cannot see gRPC codes), and what the driver saw
 * (gRPC codes from the in-repo driver; HTTP statuses 200 and 400 from h2load over Connect JSON;
 * 10,000 answered gRPC calls from h2load over HTTP/2).
 */
import type { RunStats } from "./stats.js";

export const WALLET_START = 10_000n;
export const WALLET_CALLS = 10_000;
const HALF = WALLET_CALLS / 2;

export interface WalletEvidence {
  readonly id: string;
  readonly driver: string;
  readonly protocol: "grpc" | "http";
  readonly stats: RunStats;
  readonly finalBalance: bigint | undefined;
  /** Codes of the wallet's method in the server's access log. */
  readonly serverCodes: Record<string, number>;
}

function driverAgrees(evidence: WalletEvidence): boolean {
  const { codes } = evidence.stats;
  if (evidence.driver !== "h2load") return codes.OK === HALF && codes.FAILED_PRECONDITION === HALF;
  // Connect maps FAILED_PRECONDITION to HTTP 400; gRPC answers every call with HTTP 200.
  if (evidence.protocol === "http") return codes["HTTP 200"] === HALF && codes["HTTP 400"] === HALF;
  return codes["HTTP 200"] === WALLET_CALLS;
}

/** One line for the summary: "wallet: EXACT (...)" or "wallet: NOT EXACT (...)". */
export function walletVerdict(evidence: WalletEvidence): { exact: boolean; line: string } {
  const server = evidence.serverCodes;
  const exact =
    evidence.finalBalance === 0n &&
    server.OK === HALF &&
    server.FAILED_PRECONDITION === HALF &&
    Object.keys(server).length === 2 &&
    driverAgrees(evidence);
  const line =
    `${evidence.id}: ${exact ? "EXACT" : "NOT EXACT"} (final balance ${evidence.finalBalance}; ` +
    `server access log ${JSON.stringify(server)}; ${evidence.driver} saw ${JSON.stringify(evidence.stats.codes)})`;
  return { exact, line };
}

/**
 * The crash campaign: drive keyed mutations from several clients at the real service, SIGKILL
 * it at a random instant, restart it on the same file, and check after every restart that
 *
 * - every acknowledged mutation is in the file exactly once, as acknowledged, and a retry of its
 *   key answers the same entry with replayed=true;
 * - every acknowledged refusal left nothing behind;
 * - every call whose outcome the kill hid is either wholly in the file or wholly absent, and a
 *   retry of its key says which (replayed=true exactly when it was in the file);
 * - no entry exists that no client sent, and `verifyLedger` finds every balance equal to the
 *   fold of its entries.
 *
 * Any violation throws with the key and what was seen, so a failing run explains itself.
 */
import { LedgerService, type Decision } from "../../gen/ledger/v1/ledger_pb.js";
import { ChildServer, freePort } from "./child-server.js";
import { GrpcCallError, GrpcTestClient, grpc } from "./grpc-client.js";
import { auditLedger, keyOf, type LedgerSnapshot } from "./ledger-audit.js";

type Operation = "load" | "authorize" | "adjust";

interface Call {
  readonly userId: string;
  readonly key: string;
  readonly operation: Operation;
  readonly amount: bigint;
  /** acked: answered OK; refused: answered FAILED_PRECONDITION; unknown: the kill hid the answer. */
  state: "acked" | "refused" | "unknown";
  entryId?: bigint;
  balanceAfter?: bigint;
  decision?: Decision;
  /** Set once a retry of an acknowledged call has been seen to replay it. */
  replayChecked?: boolean;
}

export interface CampaignOptions {
  readonly dbPath: string;
  readonly kills: number;
  readonly clients: number;
  /** Calls each client keeps in flight, so that group commits batch many of them. */
  readonly callsInFlightPerClient: number;
  readonly users: number;
  /** The load runs this long, at random within the range, before the SIGKILL. */
  readonly runBeforeKillMs: readonly [number, number];
  readonly log?: (line: string) => void;
}

export interface CampaignFigures {
  kills: number;
  killsWithCallsInFlight: number;
  callsSent: number;
  callsAcknowledged: number;
  refusalsAcknowledged: number;
  outcomesHiddenByKill: number;
  hiddenFoundCommitted: number;
  hiddenFoundAbsent: number;
  replaysChecked: number;
  entriesVerified: number;
  accountsVerified: number;
}

const CALL_DEADLINE_MS = 15_000;
const { load, authorize, adjustBalance } = LedgerService.method;

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export async function runCrashCampaign(options: CampaignOptions): Promise<CampaignFigures> {
  const figures: CampaignFigures = {
    kills: 0,
    killsWithCallsInFlight: 0,
    callsSent: 0,
    callsAcknowledged: 0,
    refusalsAcknowledged: 0,
    outcomesHiddenByKill: 0,
    hiddenFoundCommitted: 0,
    hiddenFoundAbsent: 0,
    replaysChecked: 0,
    entriesVerified: 0,
    accountsVerified: 0,
  };
  const server = new ChildServer(await freePort(), { LEDGER_DB: options.dbPath, LEDGER_DURABILITY: "full" });
  const calls = new Map<string, Call>();
  let sequence = 0;
  try {
    for (let cycle = 0; cycle <= options.kills; cycle += 1) {
      await server.start();
      const client = new GrpcTestClient(server.address);
      try {
        await reconcile(client, calls, options.dbPath, figures);
        if (cycle === options.kills) break;
        let inFlight = 0;
        let stopped = false;
        const worker = async () => {
          while (!stopped) {
            const call = newCall(options.users, `k${(sequence += 1)}`);
            calls.set(keyOf(call.userId, call.key), call);
            figures.callsSent += 1;
            inFlight += 1;
            await send(client, call).finally(() => (inFlight -= 1));
          }
        };
        const workers = Array.from({ length: options.clients * options.callsInFlightPerClient }, worker);
        await new Promise((resolve) => setTimeout(resolve, randomInt(...options.runBeforeKillMs)));
        // Workers stop starting calls before the kill, so every hidden outcome was really in flight.
        stopped = true;
        const inFlightAtKill = inFlight;
        await server.kill();
        await Promise.all(workers);
        figures.kills += 1;
        if (inFlightAtKill > 0) figures.killsWithCallsInFlight += 1;
        options.log?.(`kill ${figures.kills}: ${inFlightAtKill} calls in flight, ${figures.callsSent} sent so far`);
      } finally {
        client.close();
      }
    }
    const exitCode = await server.stop();
    if (exitCode !== 0) throw new Error(`graceful shutdown exited with ${exitCode}: ${server.lastStderr}`);
  } finally {
    await server.kill();
  }
  for (const call of calls.values()) {
    if (call.state === "acked") figures.callsAcknowledged += 1;
    if (call.state === "refused") figures.refusalsAcknowledged += 1;
  }
  return figures;
}

function newCall(users: number, key: string): Call {
  const userId = `crash-user-${randomInt(1, users)}`;
  const roll = Math.random();
  if (roll < 0.4) return { userId, key, operation: "load", amount: BigInt(randomInt(1, 1000)), state: "unknown" };
  if (roll < 0.75) return { userId, key, operation: "authorize", amount: BigInt(randomInt(1, 900)), state: "unknown" };
  const magnitude = BigInt(randomInt(1, 700));
  return { userId, key, operation: "adjust", amount: Math.random() < 0.5 ? magnitude : -magnitude, state: "unknown" };
}

interface Answer {
  readonly entryId: bigint;
  readonly balanceAfter: bigint;
  readonly replayed: boolean;
  readonly decision?: Decision;
}

async function call(client: GrpcTestClient, request: Call): Promise<Answer> {
  const input = { userId: request.userId, amount: request.amount, currency: "USD", idempotencyKey: request.key };
  const options = { deadlineMs: CALL_DEADLINE_MS };
  switch (request.operation) {
    case "load":
      return client.unary(load, input, options);
    case "authorize":
      return client.unary(authorize, input, options);
    case "adjust":
      return client.unary(adjustBalance, input, options);
  }
}

/** Sends a call and records what its answer proves; errors other than a refusal prove nothing. */
async function send(client: GrpcTestClient, request: Call): Promise<Answer | undefined> {
  try {
    const answer = await call(client, request);
    request.state = "acked";
    request.entryId = answer.entryId;
    request.balanceAfter = answer.balanceAfter;
    if (answer.decision !== undefined) request.decision = answer.decision;
    return answer;
  } catch (error) {
    if (
      error instanceof GrpcCallError &&
      error.code === grpc.status.FAILED_PRECONDITION &&
      error.reason === "INSUFFICIENT_FUNDS"
    ) {
      request.state = "refused";
    }
    return undefined;
  }
}

/** After a restart: check the file against every answer, then settle the hidden outcomes by retrying their keys. */
async function reconcile(
  client: GrpcTestClient,
  calls: Map<string, Call>,
  dbPath: string,
  figures: CampaignFigures,
): Promise<void> {
  const snapshot = await auditLedger(dbPath);
  checkSnapshot(snapshot, calls, figures);
  for (const [key, request] of calls) {
    const entry = snapshot.entriesByKey.get(key);
    if (request.state === "unknown") {
      figures.outcomesHiddenByKill += 1;
      const answer = await send(client, request);
      if (request.state === "unknown") throw new Error(`retry of hidden outcome ${key} failed after restart`);
      const committed = entry !== undefined;
      if (committed) figures.hiddenFoundCommitted += 1;
      else figures.hiddenFoundAbsent += 1;
      if (answer !== undefined && answer.replayed !== committed) {
        throw new Error(`${key}: in the file: ${committed}, but the retry answered replayed=${answer.replayed}`);
      }
      if (answer === undefined && committed) throw new Error(`${key}: in the file, but the retry was refused`);
    } else if (request.state === "acked" && !request.replayChecked) {
      const answer = await call(client, request);
      figures.replaysChecked += 1;
      if (
        !answer.replayed ||
        answer.entryId !== request.entryId ||
        answer.balanceAfter !== request.balanceAfter ||
        answer.decision !== request.decision
      ) {
        throw new Error(
          `${key}: acknowledged entry ${request.entryId}, balance ${request.balanceAfter}; the retry answered ${JSON.stringify(answer, (_, value: unknown) => (typeof value === "bigint" ? String(value) : value))}`,
        );
      }
      request.replayChecked = true;
    }
  }
}

/** The file against the answers: acknowledged exactly as answered, refusals absent, nothing unknown to us. */
function checkSnapshot(snapshot: LedgerSnapshot, calls: Map<string, Call>, figures: CampaignFigures): void {
  if (snapshot.report.mismatches.length > 0) {
    throw new Error(
      `verify found ${snapshot.report.mismatches.length} mismatch(es): ${JSON.stringify(snapshot.report.mismatches.slice(0, 5))}`,
    );
  }
  figures.entriesVerified = snapshot.report.entriesChecked;
  figures.accountsVerified = snapshot.report.accountsChecked;
  for (const [key, entry] of snapshot.entriesByKey) {
    const request = calls.get(key);
    if (request === undefined) throw new Error(`entry ${entry.id} has key ${key}, which no client sent`);
    if (entry.kind !== request.operation || entry.amount !== request.amount) {
      throw new Error(`${key}: sent ${request.operation} ${request.amount}, recorded ${entry.kind} ${entry.amount}`);
    }
  }
  for (const [key, request] of calls) {
    const entry = snapshot.entriesByKey.get(key);
    if (request.state === "refused" && entry !== undefined)
      throw new Error(`${key}: refused, yet recorded as entry ${entry.id}`);
    if (request.state !== "acked") continue;
    if (entry === undefined)
      throw new Error(`${key}: acknowledged as entry ${request.entryId}, missing after the crash`);
    if (entry.id !== request.entryId || entry.balanceAfter !== request.balanceAfter) {
      throw new Error(
        `${key}: acknowledged entry ${request.entryId} balance ${request.balanceAfter}, file has ${entry.id} balance ${entry.balanceAfter}`,
      );
    }
  }
}

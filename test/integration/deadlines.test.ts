/**
 * Deadlines and cancellation: calls that run out of time or are cancelled by their client,
 * over gRPC and over HTTP, at every instant from before sending to after committing. Each
 * outcome must be whole: the entry is in the file or it is not, and a retry with the same key
 * says which (replayed=true exactly when it is).
 */
import {
  create,
  toBinary,
  fromBinary,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { STORE_KINDS } from "../support/stores.js";
import { startApp, type TestApp } from "../support/app.js";
import { GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger, keyOf } from "../support/ledger-audit.js";

const { load, authorize, adjustBalance } = LedgerService.method;
const CALLS_PER_KIND = 200;

type AnyUnaryMethod = DescMethodUnary<DescMessage, DescMessage>;

/** Calls any of the service's unary methods, chosen at run time, with a loosely typed request. */
function callAny(client: GrpcTestClient, method: unknown, input: object, options: { deadlineMs?: number } = {}) {
  return client.unary(method as AnyUnaryMethod, input as MessageInitShape<DescMessage>, options) as Promise<{
    replayed?: boolean;
  }>;
}
/**
 * Every this many indexes, one more call with a deadline it always meets: on a loaded machine the
 * random deadlines can all expire, and the acknowledged side of the check must still be exercised.
 */
const PATIENT_EVERY = 5;
const PATIENT_DEADLINE_MS = 30_000;
/** Calls of each kind in flight at once: enough to batch commits, few enough that some finish. */
const CALLS_PER_ROUND = 10;

interface Sent {
  readonly userId: string;
  readonly key: string;
  readonly method: typeof load | typeof authorize | typeof adjustBalance;
  readonly amount: bigint;
  outcome?: string;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("the server did not settle in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Stretches the delays to the store's own call latency (PostgreSQL's is several times SQLite's). */
let delayScale = 1;

function randomDelayMs(): number {
  // From before the call is sent to well after it commits: every stage of a call is hit.
  const roll = Math.random();
  return (roll < 0.2 ? 0 : roll < 0.7 ? Math.random() * 5 : Math.random() * 40) * delayScale;
}

for (const store of STORE_KINDS)
  describe(`deadlines and cancellation never leave a half-applied write, on ${store}`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;

    before(async () => {
      server = await startApp({}, store);
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
    });

    it("settles every expired, cancelled or aborted call as wholly committed or wholly absent", async () => {
      const sent: Sent[] = [];
      const next = (index: number, prefix: string): Sent => {
        const methods = [load, authorize, adjustBalance] as const;
        const method = methods[index % 3]!;
        return {
          userId: `user-${index % 5}`,
          key: `${prefix}-${index}`,
          method,
          amount: BigInt(1 + (index % 50)) * (method === adjustBalance && index % 2 === 0 ? -1n : 1n),
        };
      };
      const toMessage = (call: Sent) => ({ userId: call.userId, amount: call.amount, idempotencyKey: call.key });

      // Warm the channel up, so that connecting is not what every deadline runs out on, and time
      // a few calls to scale the deadlines to this store.
      const latenciesMs: number[] = [];
      for (let index = 0; index < 5; index += 1) {
        const startedAt = performance.now();
        await client.unary(load, { userId: "warm-up", amount: 1n });
        latenciesMs.push(performance.now() - startedAt);
      }
      delayScale = Math.max(1, (latenciesMs.sort((a, b) => a - b)[2] ?? 0) / 5);
      const deadlineCall = async (index: number, patient = false) => {
        const call = next(index, patient ? "patient" : "deadline");
        sent.push(call);
        const deadlineMs = patient ? PATIENT_DEADLINE_MS : Math.max(1, randomDelayMs());
        call.outcome = await callAny(client, call.method, toMessage(call), { deadlineMs }).then(
          () => "OK",
          (error: { code: grpc.status }) => grpc.status[error.code],
        );
      };
      const cancelledCall = (index: number) => {
        const call = next(index, "cancel");
        sent.push(call);
        return new Promise<void>((resolve) => {
          const pending = client.raw.makeUnaryRequest(
            `/${LedgerService.typeName}/${call.method.name}`,
            (message: object) => Buffer.from(toBinary(call.method.input, create(call.method.input, message))),
            (bytes: Buffer) => fromBinary(call.method.output, bytes),
            toMessage(call),
            (error) => {
              call.outcome = error ? grpc.status[error.code] : "OK";
              resolve();
            },
          );
          setTimeout(() => pending.cancel(), randomDelayMs());
        });
      };
      const abortedHttpCall = async (index: number) => {
        const call = next(index, "http");
        sent.push(call);
        try {
          const response = await fetch(`${server.baseUrl}/${LedgerService.typeName}/${call.method.name}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ ...toMessage(call), amount: String(call.amount) }),
            signal: AbortSignal.timeout(Math.max(1, randomDelayMs())),
          });
          await response.arrayBuffer();
          call.outcome = response.status === 200 ? "OK" : `HTTP ${response.status}`;
        } catch {
          call.outcome = "ABORTED";
        }
      };
      for (let first = 0; first < CALLS_PER_KIND; first += CALLS_PER_ROUND) {
        const round = Array.from({ length: CALLS_PER_ROUND }, (_, offset) => first + offset);
        await Promise.all(
          round.flatMap((index) => [
            deadlineCall(index),
            cancelledCall(index),
            abortedHttpCall(index),
            ...(index % PATIENT_EVERY === 0 ? [deadlineCall(index, true)] : []),
          ]),
        );
      }

      // Judge the file only once nothing can still change it: no connection left that could deliver
      // a late request, no call in a handler, nothing queued for commit.
      client.close();
      await waitFor(() => server.app.listener.connectionCount === 0);
      await waitFor(async () => {
        const health = (await (await fetch(`${server.baseUrl}/healthz/details`)).json()) as {
          callsInFlight: number;
          writeQueueDepth: number;
        };
        return health.callsInFlight === 0 && health.writeQueueDepth === 0;
      });
      client = new GrpcTestClient(server.address);
      const snapshot = await auditLedger(server.config.dbPath);
      expect(snapshot.report.mismatches).to.deep.equal([]);
      const tally: Record<string, number> = {};
      let committedUnacknowledged = 0;
      let absentRetried = 0;
      for (const call of sent) {
        tally[call.outcome!] = (tally[call.outcome!] ?? 0) + 1;
        const entry = snapshot.entriesByKey.get(keyOf(call.userId, call.key));
        if (call.outcome === "OK") expect(entry, `${call.key} acknowledged but absent`).not.to.equal(undefined);
        const retry = await callAny(client, call.method, toMessage(call)).then(
          (response) => ({ ok: true as const, replayed: response.replayed }),
          (error: { code: grpc.status; reason?: string }) => ({
            ok: false as const,
            code: grpc.status[error.code],
            reason: error.reason,
          }),
        );
        if (entry === undefined) {
          absentRetried += 1;
          // Absent: the retry applies it now, or refuses a debit the balance no longer covers.
          expect(retry.ok ? retry.replayed : retry.reason, call.key).to.be.oneOf([false, "INSUFFICIENT_FUNDS"]);
        } else {
          if (call.outcome !== "OK") committedUnacknowledged += 1;
          expect(retry, call.key).to.deep.equal({ ok: true, replayed: true });
        }
      }
      console.log(
        `      ${sent.length} calls: ${JSON.stringify(tally)}; ${committedUnacknowledged} committed without an answer, ${absentRetried} absent, all settled by retry`,
      );
      expect((await auditLedger(server.config.dbPath)).report.mismatches).to.deep.equal([]);
      // The test means something only if some calls ended each way.
      expect(tally.OK ?? 0).to.be.greaterThan(0);
      expect((tally.DEADLINE_EXCEEDED ?? 0) + (tally.CANCELLED ?? 0) + (tally.ABORTED ?? 0)).to.be.greaterThan(
        CALLS_PER_KIND / 2,
      );
      expect(committedUnacknowledged + absentRetried).to.be.greaterThan(0);
    });
  });

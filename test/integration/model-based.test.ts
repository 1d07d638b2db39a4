/**
 * Model-based test: random sequences of Load, Authorize, AdjustBalance, Transfer, SetAccountPolicy,
 * ApplyBatch (batches of the four mutations, captures and voids) and holds (manual-capture
 * Authorize, Capture, Void, and expiry as time passes on a manual clock that the server's commits and sweeper read), with
 * fresh, reused and
 * absent idempotency keys and exact retries, sent to the real server and checked call by call
 * against the reference model (test/support/ledger-model.ts), then GetBalance against the
 * model's accounts. fast-check shrinks any failure to a short sequence.
 */
import { expect } from "chai";
import fc from "fast-check";
import { AccountStatus, CaptureMode, Decision, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger } from "../support/ledger-audit.js";
import {
  LedgerModel,
  MODEL_HOLD_TTL_MS,
  type ModelCall,
  type ModelHold,
  type Operation,
} from "../support/ledger-model.js";
import { ManualClock } from "../support/manual-clock.js";
import { STORE_KINDS } from "../support/stores.js";

const INT64_MAX = 2n ** 63n - 1n;
const {
  load,
  authorize,
  adjustBalance,
  transfer,
  setAccountPolicy,
  getBalance,
  capture,
  void: voidHold,
  applyBatch,
} = LedgerService.method;
/** The server's over-capture tolerance in these runs: 10%. */
const OVERCAPTURE_BPS = 1000n;
const RUNS = 100;

type ItemOperation = "load" | "authorize" | "adjust" | "transfer" | "capture" | "void";

interface Step {
  readonly operation: Operation | "retry" | "expire";
  readonly user: string;
  readonly currency: "" | "USD" | "EUR";
  readonly amount: bigint;
  readonly key: string | null;
  /** For a batch: its items (in the step's currency). */
  readonly items: readonly { readonly operation: ItemOperation; readonly user: string; readonly amount: bigint }[];
}

const amountArbitrary = fc.oneof(
  // Small amounts make exact-balance debits (the boundary of every rule) common.
  { weight: 6, arbitrary: fc.bigInt(1n, 12n) },
  { weight: 2, arbitrary: fc.bigInt(1n, 5000n) },
  // Near the top of int64, so that totals overflow and OUT_OF_RANGE is exercised.
  { weight: 1, arbitrary: fc.constantFrom(INT64_MAX, INT64_MAX - 1n, 2n ** 62n, 2n ** 53n + 1n) },
);

const itemArbitrary = fc.record({
  operation: fc.constantFrom<ItemOperation>("load", "authorize", "adjust", "transfer", "capture", "void"),
  user: fc.constantFrom("a", "b"),
  amount: amountArbitrary,
});

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  operation: fc.constantFrom<Operation | "retry" | "expire">(
    "load",
    "load",
    "authorize",
    "adjust",
    "transfer",
    "policy",
    "retry",
    "hold",
    "hold",
    "capture",
    "capture",
    "void",
    "expire",
    "batch",
    "batch",
  ),
  user: fc.constantFrom("a", "b"),
  currency: fc.constantFrom<"" | "USD" | "EUR">("", "USD", "EUR"),
  amount: amountArbitrary,
  // A small key space makes reuse, with the same and with different fields, frequent.
  key: fc.option(
    fc.nat(6).map((n) => `key-${n}`),
    { freq: 4 },
  ),
  items: fc.array(itemArbitrary, { minLength: 1, maxLength: 4 }),
});

/** A step's item as a model call: even adjustments subtract, a transfer goes to the other user. */
function itemCall(
  item: Step["items"][number],
  run: number,
  currency: string,
  holdIds: readonly bigint[],
  model: LedgerModel,
): ModelCall {
  const userId = `r${run}-${item.user}`;
  if (item.operation === "capture" || item.operation === "void") {
    // The hold as the sequence left it; earlier items of the same batch may change it further.
    const holdId = pickHold(holdIds, model, userId, item.amount);
    const capture = item.operation === "capture";
    return {
      operation: item.operation,
      userId,
      currency,
      amount: capture ? captureAmount(model.holds.get(holdId), item.amount) : 0n,
      key: null,
      holdId,
      final: capture && item.amount % 3n === 0n,
    };
  }
  const amount = item.operation === "adjust" && item.amount % 2n === 0n ? -item.amount : item.amount;
  return {
    operation: item.operation,
    userId: `r${run}-${item.user}`,
    currency,
    amount,
    key: null,
    ...(item.operation === "transfer" ? { payeeUserId: `r${run}-${item.user === "a" ? "b" : "a"}` } : {}),
  };
}

function wireItem(item: ModelCall, currency: string) {
  if (item.operation === "transfer") {
    const value = { payerUserId: item.userId, payeeUserId: item.payeeUserId ?? "", amount: item.amount, currency };
    return { kind: { case: "transfer" as const, value } };
  }
  if (item.operation === "capture" || item.operation === "void") {
    const target = { userId: item.userId, holdId: item.holdId ?? 0n };
    return item.operation === "void"
      ? { kind: { case: "void" as const, value: target } }
      : { kind: { case: "capture" as const, value: { ...target, amount: item.amount, final: item.final ?? false } } };
  }
  const value = { userId: item.userId, amount: item.amount, currency };
  switch (item.operation) {
    case "load":
      return { kind: { case: "load" as const, value } };
    case "authorize":
      return { kind: { case: "authorize" as const, value } };
    default:
      return { kind: { case: "adjust" as const, value } };
  }
}

/** `lastEntryId` is the newest entry the call recorded: a transfer's payee leg follows its payer's. */
type Answer = { entryId: bigint; balanceAfter: bigint; replayed: boolean; decision?: Decision; lastEntryId?: bigint };

async function send(client: GrpcTestClient, call: ModelCall, rawCurrency: string): Promise<Answer | GrpcCallError> {
  const input = { userId: call.userId, amount: call.amount, currency: rawCurrency, idempotencyKey: call.key ?? "" };
  try {
    if (call.operation === "load") return await client.unary(load, input);
    if (call.operation === "authorize") return await client.unary(authorize, input);
    if (call.operation === "hold") {
      return await client.unary(authorize, { ...input, captureMode: CaptureMode.MANUAL, ttlSeconds: 60n });
    }
    if (call.operation === "capture" || call.operation === "void") {
      const target = { userId: call.userId, holdId: call.holdId ?? 0n, idempotencyKey: call.key ?? "" };
      return call.operation === "void"
        ? await client.unary(voidHold, target)
        : await client.unary(capture, { ...target, amount: call.amount, final: call.final ?? false });
    }
    if (call.operation === "policy") {
      const policy = call.policy ?? { overdraftLimit: 0n, state: "active" };
      const status = { active: AccountStatus.ACTIVE, frozen: AccountStatus.FROZEN, closed: AccountStatus.CLOSED };
      await client.unary(setAccountPolicy, {
        userId: call.userId,
        currency: rawCurrency,
        overdraftLimit: policy.overdraftLimit,
        status: status[policy.state],
      });
      return { entryId: 0n, balanceAfter: 0n, replayed: false };
    }
    if (call.operation === "batch") {
      const answer = await client.unary(applyBatch, {
        items: (call.items ?? []).map((item) => wireItem(item, rawCurrency)),
        idempotencyKey: call.key ?? "",
      });
      const last = answer.entries.at(-1)?.entry;
      return {
        entryId: answer.batchId,
        balanceAfter: last?.balanceAfter ?? 0n,
        replayed: answer.replayed,
        lastEntryId: last?.id ?? 0n,
      };
    }
    if (call.operation === "transfer") {
      const answer = await client.unary(transfer, {
        payerUserId: call.userId,
        payeeUserId: call.payeeUserId ?? "",
        amount: call.amount,
        currency: rawCurrency,
        idempotencyKey: call.key ?? "",
      });
      return {
        entryId: answer.transferId,
        balanceAfter: answer.payerBalanceAfter,
        replayed: answer.replayed,
        lastEntryId: answer.payeeEntryId,
      };
    }
    return await client.unary(adjustBalance, input);
  } catch (error) {
    if (error instanceof GrpcCallError) return error;
    throw error;
  }
}

/**
 * The hold a capture or void names: mostly one of the caller's own (the newest ones first), now
 * and then another user's or one that does not exist, which must be NOT_FOUND.
 */
function pickHold(holdIds: readonly bigint[], model: LedgerModel, userId: string, stepAmount: bigint): bigint {
  if (stepAmount % 7n === 0n) return 999_999_999n;
  if (stepAmount % 7n === 1n && holdIds.length > 0) return holdIds[Number(stepAmount % BigInt(holdIds.length))] ?? 0n;
  const own = holdIds.filter((id) => model.holds.get(id)?.userId === userId).reverse();
  return own[Number(stepAmount % 3n)] ?? own[0] ?? 999_999_999n;
}

const WIRE_INT64_MAX = 2n ** 63n - 1n;

/**
 * A capture's amount, mostly at the edges of its hold: part of what is left, all of it, exactly
 * the over-capture limit, one unit past it, or the step's own amount.
 */
function captureAmount(hold: ModelHold | undefined, stepAmount: bigint): bigint {
  if (hold === undefined) return stepAmount;
  const remaining = hold.amount - hold.captured;
  const limit = hold.amount + (hold.amount * OVERCAPTURE_BPS) / 10_000n - hold.captured;
  const choices = [remaining / 2n, remaining, limit, limit + 1n, stepAmount];
  const choice = choices[Number(stepAmount % BigInt(choices.length))] ?? stepAmount;
  // The over-capture limit of a hold near int64's top is past what the wire can carry (the
  // client then fails to encode the call): ask for the most a request can say instead.
  if (choice > WIRE_INT64_MAX) return WIRE_INT64_MAX;
  return choice > 0n ? choice : 1n;
}

for (const store of STORE_KINDS)
  describe(`model-based: random call sequences against a reference model, on ${store}`, function () {
    this.timeout(120_000);
    let server: TestApp;
    let client: GrpcTestClient;
    const clock = new ManualClock();

    before(async () => {
      // The per-call limit lifted to int64, so that balances and totals reach their own limits.
      server = await startApp(
        { LEDGER_AMOUNT_MINOR_MAX: String(INT64_MAX), LEDGER_HOLD_OVERCAPTURE_BPS: String(OVERCAPTURE_BPS) },
        store,
        { clock },
      );
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
    });

    it(`agrees with the model on every answer and every balance (${RUNS} sequences)`, async () => {
      let run = 0;
      let callsChecked = 0;
      let lastEntryId = 0n;
      await fc.assert(
        fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 60, size: "max" }), async (steps) => {
          // Each sequence gets its own users, so sequences (and shrinking) never see each other's state.
          run += 1;
          const model = new LedgerModel(clock.nowMs(), OVERCAPTURE_BPS);
          const holdIds: bigint[] = [];
          let previous: { call: ModelCall; rawCurrency: string } | undefined;
          for (const step of steps) {
            let call: ModelCall;
            let rawCurrency: string;
            if (step.operation === "expire") {
              // Past the holds' lifetime: the sweeper releases what is due, as the model does.
              const ms = step.amount % 2n === 0n ? MODEL_HOLD_TTL_MS : MODEL_HOLD_TTL_MS / 2;
              clock.advance(ms);
              await server.app.holdSweeper.settled();
              model.advance(ms);
              continue;
            }
            if (step.operation === "retry") {
              if (previous === undefined) continue;
              ({ call, rawCurrency } = previous);
            } else {
              const holdId =
                step.operation === "capture" || step.operation === "void"
                  ? pickHold(holdIds, model, `r${run}-${step.user}`, step.amount)
                  : undefined;
              const amount =
                step.operation === "adjust" && step.amount % 2n === 0n
                  ? -step.amount
                  : step.operation === "capture"
                    ? captureAmount(model.holds.get(holdId ?? 0n), step.amount)
                    : step.amount;
              rawCurrency = step.currency;
              const items = step.items.map((item) => itemCall(item, run, step.currency || "USD", holdIds, model));
              call = {
                operation: step.operation,
                userId: `r${run}-${step.user}`,
                currency: step.currency || "USD",
                amount,
                key: step.key,
                // The other user of the sequence: a transfer's payee never equals its payer.
                ...(step.operation === "transfer" ? { payeeUserId: `r${run}-${step.user === "a" ? "b" : "a"}` } : {}),
                // One of the sequence's holds (possibly the other user's), or one that does not exist.
                ...(holdId === undefined ? {} : { holdId }),
                ...(step.operation === "capture" ? { final: step.amount % 3n === 0n } : {}),
                // A batch's key belongs to its first item's user (a transfer's payer).
                ...(step.operation === "batch" ? { items, userId: items[0]?.userId ?? "" } : {}),
                // Mostly active with a small overdraft; sometimes frozen or closed.
                ...(step.operation === "policy"
                  ? {
                      policy: {
                        overdraftLimit: step.amount % 20n,
                        state: step.amount % 5n === 0n ? "closed" : step.amount % 5n === 1n ? "frozen" : "active",
                      } as const,
                    }
                  : {}),
              };
            }
            previous = { call, rawCurrency };
            const { expected, recorded } = model.apply(call);
            const answer = await send(client, call, rawCurrency);
            callsChecked += 1;
            const items = (call.items ?? []).map(
              (item) =>
                `${item.operation}:${item.userId}${item.payeeUserId ? `>${item.payeeUserId}` : ""}:${item.amount}`,
            );
            const context = `${call.operation} ${call.userId} ${call.currency} ${call.amount} key=${call.key} ${items.join(",")}`;
            if (answer instanceof GrpcCallError) {
              expect(grpc.status[answer.code], `${context}: ${answer.message}`).to.equal(expected.code);
              if (expected.code !== "OK" && expected.itemIndex !== undefined) {
                expect(answer.metadata["item_index"], `${context}: the refused item`).to.equal(
                  String(expected.itemIndex),
                );
              }
              continue;
            }
            expect("OK", context).to.equal(expected.code);
            if (expected.code !== "OK" || call.operation === "policy") continue;
            expect(answer.replayed, context).to.equal(expected.replayed);
            expect(answer.balanceAfter, context).to.equal(expected.balanceAfter);
            if (expected.approved !== undefined) {
              expect(answer.decision, context).to.equal(expected.approved ? Decision.APPROVED : Decision.DECLINED);
            }
            if (expected.replayed) {
              expect(answer.entryId, `${context}: a replay must name the first entry`).to.equal(expected.firstAnswer);
            } else {
              expect(answer.entryId > lastEntryId, `${context}: entry ids must grow`).to.equal(true);
              lastEntryId = answer.lastEntryId ?? answer.entryId;
              if (recorded !== undefined) recorded.answer = answer.entryId;
              if (call.operation === "hold" && expected.approved === true) {
                model.placed(call, answer.entryId);
                holdIds.push(answer.entryId);
              }
            }
          }
          for (const [account, state] of model.accounts) {
            const [userId = "", currency = ""] = account.split(" ");
            const { balances } = await client.unary(getBalance, { userId, currency });
            const { balance, earned, spent, loaded, authorized, declinedCount, entryCount, held } = balances[0]!;
            expect(
              { balance, earned, spent, loaded, authorized, declinedCount, entryCount, held },
              account,
            ).to.deep.equal(state);
          }
        }),
        { numRuns: RUNS },
      );
      const snapshot = await auditLedger(server.config.dbPath);
      expect(snapshot.report.mismatches).to.deep.equal([]);
      console.log(
        `      model-based: ${RUNS} sequences, ${callsChecked} calls checked against the model, ${snapshot.report.entriesChecked} entries verified`,
      );
    });
  });

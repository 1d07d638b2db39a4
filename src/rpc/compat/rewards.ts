/**
 * The rewards app's API (LEDGER_COMPAT=rewards): `GET /user/:id` and `GET /user/:id/payouts`,
 * mapped onto GetBalance and GetPayouts. Amounts are JSON numbers in major units, written from
 * their exact decimal text. A user with accounts in several currencies names one with
 * `?currency=`; with a single account it is implied.
 */
import { LedgerService } from "../../../gen/ledger/v1/ledger_pb.js";
import {
  callRpc,
  invalidInput,
  sendText,
  type CompatContext,
  type CompatDeps,
  type CompatFailure,
} from "./compat-call.js";
import { minorToJsonNumber } from "./major-units.js";
import { majorNumber, object, text, type CompatOperation } from "./openapi.js";
import type { CompatRoute } from "./profiles.js";

/** Most payouts one user can have listed: one per currency, so this is far above any real count. */
const PAYOUTS_PAGE_SIZE = 1000;

const rewardsError = object({ error: text, code: text }, ["error", "code"]);

function userDoc(): CompatOperation {
  const sums = ["balance", "earned", "spent", "payout", "paidOut", "payoutOutstanding"];
  return {
    summary: "Rewards: a user's balance and aggregates",
    description:
      "GetBalance: four sums by transaction type (payout is requested payouts) and payoutOutstanding = payout - paidOut. " +
      "A user with several currencies names one with ?currency=.",
    responses: {
      "200": {
        description: "the aggregates",
        schema: object({ id: text, currency: text, ...Object.fromEntries(sums.map((name) => [name, majorNumber])) }, [
          "id",
          "currency",
          ...sums,
        ]),
      },
      "400": { description: "invalid user id, or several currencies and none named", schema: rewardsError },
      "404": { description: "unknown user", schema: rewardsError },
    },
  };
}

function payoutsDoc(): CompatOperation {
  const payout = object({ currency: text, amount: majorNumber, requested: majorNumber, paidOut: majorNumber }, [
    "currency",
    "amount",
    "requested",
    "paidOut",
  ]);
  return {
    summary: "Rewards: a user's outstanding requested payouts",
    description: "GetPayouts for one user: amount = requested - paid out, one item per currency with one outstanding.",
    responses: {
      "200": {
        description: "the payouts",
        schema: object({ id: text, payouts: { type: "array", items: payout } }, ["id", "payouts"]),
      },
      "400": { description: "invalid user id", schema: rewardsError },
    },
  };
}

/** The rewards profile's routes. */
export const rewardsRoutes: readonly CompatRoute[] = [
  { method: "GET", path: "/user/:id", serve: serveUser, doc: userDoc() },
  { method: "GET", path: "/user/:id/payouts", serve: servePayouts, doc: payoutsDoc() },
];

async function serveUser(deps: CompatDeps, ctx: CompatContext): Promise<void> {
  const userId = ctx.params.get("id") ?? "";
  const currency = ctx.query.get("currency") ?? "";
  const result = await callRpc(deps, ctx, LedgerService.method.getBalance, { userId, currency });
  if (!result.ok) return sendError(ctx, result);
  const { balances } = result.value;
  const [account] = balances;
  if (account === undefined)
    return sendError(ctx, { ...invalidInput("User not found"), status: 404, code: "not_found" });
  if (balances.length > 1) {
    const held = balances.map((item) => item.currency).join(", ");
    return sendError(ctx, invalidInput(`user ${userId} holds ${held}: name one with ?currency=`));
  }
  const number = (minor: bigint) => minorToJsonNumber(minor, account.currency);
  const fields = [
    `"id":${JSON.stringify(userId)}`,
    `"currency":${JSON.stringify(account.currency)}`,
    `"balance":${number(account.balance)}`,
    `"earned":${number(account.earned)}`,
    `"spent":${number(account.spent)}`,
    `"payout":${number(account.payout)}`,
    `"paidOut":${number(account.paidOut)}`,
    `"payoutOutstanding":${number(account.payoutOutstanding)}`,
  ];
  sendText(ctx.response, 200, `{${fields.join(",")}}`);
}

async function servePayouts(deps: CompatDeps, ctx: CompatContext): Promise<void> {
  const userId = ctx.params.get("id") ?? "";
  const currency = ctx.query.get("currency") ?? "";
  const result = await callRpc(deps, ctx, LedgerService.method.getPayouts, {
    userId,
    currency,
    pageSize: PAYOUTS_PAGE_SIZE,
  });
  if (!result.ok) return sendError(ctx, result);
  const items = result.value.payouts.map((payout) => {
    const number = (minor: bigint) => minorToJsonNumber(minor, payout.currency);
    return `{"currency":${JSON.stringify(payout.currency)},"amount":${number(payout.amount)},"requested":${number(payout.requested)},"paidOut":${number(payout.paidOut)}}`;
  });
  sendText(ctx.response, 200, `{"id":${JSON.stringify(userId)},"payouts":[${items.join(",")}]}`);
}

function sendError(ctx: CompatContext, failure: CompatFailure): void {
  sendText(ctx.response, failure.status, JSON.stringify({ error: failure.message, code: failure.code }));
}

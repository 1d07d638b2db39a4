/**
 * The wallet's API (LEDGER_COMPAT=wallet): `GET /api/users/:userId` and
 * `PUT /api/users/:userId/balance {"amount": -2}`, mapped onto GetBalance and AdjustBalance in the
 * default currency. Answers are `{"success": true, "data": {"id", "balance"}}` with the balance
 * a JSON number in major units, written from its exact decimal text; failures are
 * `{"success": false, "error"}`, "Insufficient funds" (400) when a debit would overdraw.
 */
import { LedgerService } from "../../../gen/ledger/v1/ledger_pb.js";
import {
  callRpc,
  invalidInput,
  readJsonObject,
  sendText,
  type CompatContext,
  type CompatDeps,
  type CompatFailure,
} from "./compat-call.js";
import { majorToMinor, minorToJsonNumber } from "./major-units.js";
import { majorNumber, object, text, type CompatOperation } from "./openapi.js";
import type { CompatRoute } from "./profiles.js";

/** The wallet's own text for a debit larger than the balance. */
export const INSUFFICIENT_FUNDS_TEXT = "Insufficient funds";

const walletData = object(
  { success: { const: true }, data: object({ id: text, balance: majorNumber }, ["id", "balance"]) },
  ["success", "data"],
);
const walletError = object({ success: { const: false }, error: text }, ["success", "error"]);

function userDoc(): CompatOperation {
  return {
    summary: "Wallet: a user's balance",
    description: "GetBalance in the default currency.",
    responses: {
      "200": { description: "the balance", schema: walletData },
      "404": { description: "User not found", schema: walletError },
    },
  };
}

function adjustDoc(): CompatOperation {
  return {
    summary: "Wallet: add to or take from a balance",
    description: "AdjustBalance in the default currency; a debit never takes the balance below zero.",
    body: object({ amount: { ...majorNumber, description: "signed, major units" } }, ["amount"]),
    responses: {
      "200": { description: "applied: the balance after", schema: walletData },
      "400": { description: "Insufficient funds, or an invalid amount", schema: walletError },
    },
  };
}

/** The wallet profile's routes. */
export const walletRoutes: readonly CompatRoute[] = [
  { method: "GET", path: "/api/users/:userId", serve: serveUser, doc: userDoc() },
  { method: "PUT", path: "/api/users/:userId/balance", serve: serveAdjust, doc: adjustDoc() },
];

async function serveUser(deps: CompatDeps, ctx: CompatContext): Promise<void> {
  const userId = ctx.params.get("userId") ?? "";
  const currency = deps.defaultCurrency;
  const result = await callRpc(deps, ctx, LedgerService.method.getBalance, { userId, currency });
  if (!result.ok)
    return sendError(ctx, result.code === "not_found" ? { ...result, message: "User not found" } : result);
  const balance = result.value.balances[0]?.balance ?? 0n;
  return sendData(ctx, userId, balance, currency);
}

async function serveAdjust(deps: CompatDeps, ctx: CompatContext): Promise<void> {
  const userId = ctx.params.get("userId") ?? "";
  const currency = deps.defaultCurrency;
  const body = await readJsonObject(deps, ctx.request);
  if (!body.ok) return sendError(ctx, body.failure);
  const amount = majorToMinor(body.body.fields.get("amount"), currency, "amount");
  if (!amount.ok) return sendError(ctx, invalidInput(amount.message));
  const result = await callRpc(deps, ctx, LedgerService.method.adjustBalance, {
    userId,
    amount: amount.minor.toString(),
    currency,
  });
  if (!result.ok) {
    return sendError(
      ctx,
      result.reason === "INSUFFICIENT_FUNDS" ? { ...result, status: 400, message: INSUFFICIENT_FUNDS_TEXT } : result,
    );
  }
  return sendData(ctx, userId, result.value.balanceAfter, currency);
}

function sendData(ctx: CompatContext, userId: string, balanceMinor: bigint, currency: string): void {
  // Written by hand so the balance is the exact decimal literal, not a double's rendering.
  sendText(
    ctx.response,
    200,
    `{"success":true,"data":{"id":${JSON.stringify(userId)},"balance":${minorToJsonNumber(balanceMinor, currency)}}}`,
  );
}

function sendError(ctx: CompatContext, failure: CompatFailure): void {
  sendText(ctx.response, failure.status, JSON.stringify({ success: false, error: failure.message }));
}

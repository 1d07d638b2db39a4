/**
 * The card service's API (LEDGER_COMPAT=card): `PUT /api/v1/load`, `PUT /api/v1/authorization`
 * and `GET /api/ping`, mapped onto Load and Authorize. Amounts travel in major units as decimal
 * strings ("100.23"); the card's messageId is the idempotency key, so a retried message returns
 * the first answer and applies nothing. A decline is a normal 201 answer with responseCode
 * DECLINED, as the card network expects, never an error.
 */
import { Decision, LedgerService } from "../../../gen/ledger/v1/ledger_pb.js";
import { isJsonObject, JsonNumber, type JsonObject } from "../../ingest/exact-json.js";
import {
  callRpc,
  invalidInput,
  readJsonObject,
  sendText,
  type CompatContext,
  type CompatDeps,
  type CompatFailure,
} from "./compat-call.js";
import { majorToMinor, minorToMajor } from "./major-units.js";
import { object, text, type CompatOperation } from "./openapi.js";
import type { CompatRoute } from "./profiles.js";

interface CardTransaction {
  readonly userId: string;
  readonly messageId: string | undefined;
  readonly currency: string;
  readonly amountMinor: bigint;
}

type Parsed =
  { readonly ok: true; readonly value: CardTransaction } | { readonly ok: false; readonly failure: CompatFailure };

const cardAmountSchema = object(
  {
    amount: { type: "string", description: "a decimal in major units" },
    currency: text,
    debitOrCredit: { enum: ["DEBIT", "CREDIT"] },
  },
  ["amount"],
);
const cardError = object({ message: text, code: text }, ["message", "code"]);

function transactionDoc(direction: "CREDIT" | "DEBIT"): CompatOperation {
  const echo = { userId: text, messageId: text };
  const answer =
    direction === "CREDIT"
      ? object({ ...echo, balance: cardAmountSchema }, ["userId", "balance"])
      : object({ ...echo, responseCode: { enum: ["APPROVED", "DECLINED"] }, balance: cardAmountSchema }, [
          "userId",
          "responseCode",
          "balance",
        ]);
  return {
    summary: direction === "CREDIT" ? "Card: load (credit)" : "Card: authorization (debit if funds suffice)",
    description:
      (direction === "CREDIT" ? "Load" : "Authorize: a decline is recorded and answered 201 DECLINED") +
      "; messageId is the idempotency key.",
    body: object({ userId: text, messageId: text, transactionAmount: cardAmountSchema }, [
      "userId",
      "transactionAmount",
    ]),
    responses: {
      "201": { description: direction === "CREDIT" ? "loaded" : "decided", schema: answer },
      "400": { description: "invalid input", schema: cardError },
      "409": { description: "messageId reused with different fields", schema: cardError },
    },
  };
}

/** The card profile's routes. */
export const cardRoutes: readonly CompatRoute[] = [
  {
    method: "PUT",
    path: "/api/v1/load",
    serve: (deps, ctx) => serveTransaction(deps, ctx, "CREDIT"),
    doc: transactionDoc("CREDIT"),
  },
  {
    method: "PUT",
    path: "/api/v1/authorization",
    serve: (deps, ctx) => serveTransaction(deps, ctx, "DEBIT"),
    doc: transactionDoc("DEBIT"),
  },
  {
    method: "GET",
    path: "/api/ping",
    doc: {
      summary: "Card: liveness",
      description: "Open without a key, like /healthz.",
      responses: { "200": { description: "alive", schema: object({ serverTime: text }, ["serverTime"]) } },
    },
    // Open like the health check: a liveness probe must not need a key.
    serve: (_deps, ctx) => {
      sendText(ctx.response, 200, JSON.stringify({ serverTime: new Date().toISOString() }));
      return Promise.resolve();
    },
  },
];

async function serveTransaction(deps: CompatDeps, ctx: CompatContext, direction: "CREDIT" | "DEBIT"): Promise<void> {
  const body = await readJsonObject(deps, ctx.request);
  if (!body.ok) return sendError(ctx, body.failure);
  const parsed = parseTransaction(body.body, direction, deps.defaultCurrency);
  if (!parsed.ok) return sendError(ctx, parsed.failure);
  const { userId, messageId, currency, amountMinor } = parsed.value;
  const request = {
    userId,
    amount: amountMinor.toString(),
    currency,
    ...(messageId === undefined ? {} : { idempotencyKey: messageId }),
  };
  const echo = { userId, ...(messageId === undefined ? {} : { messageId }) };
  if (direction === "CREDIT") {
    const result = await callRpc(deps, ctx, LedgerService.method.load, request);
    if (!result.ok) return sendError(ctx, result);
    return sendText(
      ctx.response,
      201,
      JSON.stringify({ ...echo, balance: cardAmount(result.value.balanceAfter, result.value.currency) }),
    );
  }
  const result = await callRpc(deps, ctx, LedgerService.method.authorize, request);
  if (!result.ok) return sendError(ctx, result);
  const responseCode = result.value.decision === Decision.APPROVED ? "APPROVED" : "DECLINED";
  const balance = cardAmount(result.value.balanceAfter, result.value.currency);
  return sendText(ctx.response, 201, JSON.stringify({ ...echo, responseCode, balance }));
}

function parseTransaction(body: JsonObject, direction: "CREDIT" | "DEBIT", defaultCurrency: string): Parsed {
  const refuse = (message: string): Parsed => ({ ok: false, failure: invalidInput(message) });
  const userId = textField(body, "userId");
  if (userId === undefined) return refuse("userId is required and must be a string");
  const messageIdValue = body.fields.get("messageId");
  const messageId =
    messageIdValue instanceof JsonNumber
      ? messageIdValue.text
      : typeof messageIdValue === "string"
        ? messageIdValue
        : undefined;
  if (messageIdValue !== undefined && messageIdValue !== null && messageId === undefined)
    return refuse("messageId must be a string");
  const amount = body.fields.get("transactionAmount");
  if (!isJsonObject(amount)) return refuse("transactionAmount is required: {amount, currency, debitOrCredit}");
  const currencyValue = amount.fields.get("currency");
  if (currencyValue !== undefined && typeof currencyValue !== "string")
    return refuse("transactionAmount.currency must be a string");
  const currency = currencyValue === undefined || currencyValue === "" ? defaultCurrency : currencyValue;
  const debitOrCredit = amount.fields.get("debitOrCredit");
  if (debitOrCredit !== undefined && debitOrCredit !== direction) {
    return refuse(`transactionAmount.debitOrCredit must be ${direction} on this route`);
  }
  const minor = majorToMinor(amount.fields.get("amount"), currency, "transactionAmount.amount");
  if (!minor.ok) return refuse(minor.message);
  return {
    ok: true,
    value: { userId, messageId: messageId === "" ? undefined : messageId, currency, amountMinor: minor.minor },
  };
}

function textField(body: JsonObject, name: string): string | undefined {
  const value = body.fields.get(name);
  return typeof value === "string" ? value : undefined;
}

/** The card API's Amount: a decimal string in major units; a negative balance reads as DEBIT. */
function cardAmount(minor: bigint, currency: string) {
  const negative = minor < 0n;
  return {
    amount: minorToMajor(negative ? -minor : minor, currency),
    currency,
    debitOrCredit: negative ? "DEBIT" : "CREDIT",
  };
}

/** The card API's Error: `{"message", "code"}` with the HTTP status of the gRPC code. */
function sendError(ctx: CompatContext, failure: CompatFailure): void {
  sendText(ctx.response, failure.status, JSON.stringify({ message: failure.message, code: failure.code }));
}

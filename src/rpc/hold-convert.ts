/**
 * Conversion of the hold calls between wire and domain: requests become plain values for
 * `src/domain/hold-input.ts`, receipts become responses. One table per enum, here.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HoldReceipt } from "../domain/hold-ledger.js";
import type { RawHoldActionInput, RawHoldAuthorizeInput } from "../domain/hold-input.js";
import { remainingOf } from "../domain/hold.js";
import type { Hold as DomainHold, HoldStatus as DomainHoldStatus } from "../store/store.js";
import {
  CaptureResponseSchema,
  HoldSchema,
  HoldStatus,
  VoidResponseSchema,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type CaptureRequest,
  type CaptureResponse,
  type Hold,
  type VoidRequest,
  type VoidResponse,
} from "../../gen/ledger/v1/ledger_pb.js";
import { toAuthorizeResponse } from "./convert.js";
import { timeMs } from "./history-convert.js";

const STATUS_TO_WIRE: Record<DomainHoldStatus, HoldStatus> = {
  active: HoldStatus.ACTIVE,
  captured: HoldStatus.CAPTURED,
  voided: HoldStatus.VOIDED,
  expired: HoldStatus.EXPIRED,
};

export function toRawHoldAuthorize(request: AuthorizeRequest): RawHoldAuthorizeInput {
  return {
    userId: request.userId,
    amount: request.amount,
    currency: request.currency,
    idempotencyKey: request.idempotencyKey,
    expiresAtMs: request.expiresAt === undefined ? undefined : timeMs(request.expiresAt),
    ttlSeconds: request.ttlSeconds,
  };
}

export function toRawCapture(request: CaptureRequest): RawHoldActionInput {
  return { ...request, final: request.final };
}

export function toRawVoid(request: VoidRequest): RawHoldActionInput {
  return {
    userId: request.userId,
    holdId: request.holdId,
    amount: 0n,
    final: false,
    idempotencyKey: request.idempotencyKey,
  };
}

export function toHold(hold: DomainHold): Hold {
  return create(HoldSchema, {
    holdId: hold.holdId,
    userId: hold.userId,
    currency: hold.currency,
    amount: hold.amount,
    captured: hold.captured,
    remaining: remainingOf(hold),
    status: STATUS_TO_WIRE[hold.status],
    expiresAt: timestampFromMs(hold.expiresAtMs),
    createdAt: timestampFromMs(hold.createdAtMs),
    updatedAt: timestampFromMs(hold.updatedAtMs),
  });
}

export function toHoldAuthorizeResponse(receipt: HoldReceipt): AuthorizeResponse {
  const response = toAuthorizeResponse(receipt);
  response.holdId = receipt.entry.holdId ?? 0n;
  if (receipt.hold !== undefined) response.holdExpiresAt = timestampFromMs(receipt.hold.expiresAtMs);
  return response;
}

/** What a Capture's and a Void's answers share; they differ only in how they name the amount. */
function holdActionFields({ entry, hold, replayed }: HoldReceipt) {
  return {
    entryId: entry.id,
    holdId: entry.holdId ?? 0n,
    userId: entry.userId,
    currency: entry.currency,
    balanceAfter: entry.balanceAfter,
    heldAfter: entry.heldAfter ?? 0n,
    ...(hold === undefined ? {} : { hold: toHold(hold) }),
    replayed,
    createdAt: timestampFromMs(entry.createdAtMs),
  };
}

export function toCaptureResponse(receipt: HoldReceipt): CaptureResponse {
  return create(CaptureResponseSchema, { ...holdActionFields(receipt), amount: receipt.entry.amount });
}

export function toVoidResponse(receipt: HoldReceipt): VoidResponse {
  return create(VoidResponseSchema, { ...holdActionFields(receipt), released: receipt.entry.amount });
}

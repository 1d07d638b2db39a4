/**
 * Conversion of ApplyBatch between wire and domain: the request's oneof items become plain raw
 * items for `parseBatch`, and the receipt becomes the response with each entry as a LedgerEntry.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { BatchReceipt } from "../domain/batch.js";
import type { RawBatchInput, RawBatchItem } from "../domain/batch-parse.js";
import {
  ApplyBatchResponseSchema,
  CaptureMode,
  type ApplyBatchRequest,
  type ApplyBatchResponse,
  type BatchItem,
} from "../../gen/ledger/v1/ledger_pb.js";
import { toLedgerEntry } from "./history-convert.js";

function toRawItem(item: BatchItem): RawBatchItem {
  const { kind } = item;
  switch (kind.case) {
    case "authorize": {
      const { userId, amount, currency, captureMode, ttlSeconds } = kind.value;
      const manualCapture = captureMode === CaptureMode.MANUAL;
      return { kind: "authorize", userId, amount, currency, manualCapture, ttlSeconds };
    }
    case "capture": {
      const { userId, holdId, amount, final } = kind.value;
      return { kind: "capture", userId, holdId, amount, final };
    }
    case "void": {
      const { userId, holdId } = kind.value;
      return { kind: "void", userId, holdId, amount: 0n, final: false };
    }
    case "load":
    case "adjust": {
      const { userId, amount, currency } = kind.value;
      return { kind: kind.case, userId, amount, currency };
    }
    case "transfer": {
      const { payerUserId, payeeUserId, amount, currency } = kind.value;
      return { kind: "transfer", payerUserId, payeeUserId, amount, currency };
    }
    default:
      return { kind: undefined };
  }
}

export function toRawBatch(request: ApplyBatchRequest): RawBatchInput {
  return { items: request.items.map(toRawItem), idempotencyKey: request.idempotencyKey };
}

export function toApplyBatchResponse(receipt: BatchReceipt): ApplyBatchResponse {
  const first = receipt.entries[0]?.entry;
  return create(ApplyBatchResponseSchema, {
    batchId: receipt.batchId,
    entries: receipt.entries.map(({ itemIndex, entry }) => ({ itemIndex, entry: toLedgerEntry(entry) })),
    replayed: receipt.replayed,
    ...(first === undefined ? {} : { createdAt: timestampFromMs(first.createdAtMs) }),
  });
}

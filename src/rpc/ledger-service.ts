/**
 * `ledger.v1.LedgerService` over Connect: decodes each request into domain input, calls the
 * ledger, and maps its outcome to a response or to the error table's `ConnectError`.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Ledger } from "../domain/ledger.js";
import type { Outcome } from "../domain/outcome.js";
import { parseEntryId, parseEntryListing } from "../domain/history.js";
import { parseBalanceQuery, parsePayoutQuery } from "../domain/queries.js";
import {
  AMOUNT_MINOR_MAX_DEFAULT,
  parseMutation,
  type MutationKind,
  type MutationInput,
  type Parsed,
} from "../domain/validate.js";
import {
  GetBalanceResponseSchema,
  GetEntryResponseSchema,
  GetPayoutsResponseSchema,
  ListEntriesResponseSchema,
  type AdjustBalanceRequest,
  type AdjustBalanceResponse,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type CaptureRequest,
  type CaptureResponse,
  type VoidRequest,
  type VoidResponse,
  CaptureMode,
  type GetBalanceRequest,
  type GetBalanceResponse,
  type GetEntryRequest,
  type GetEntryResponse,
  type GetPayoutsRequest,
  type GetPayoutsResponse,
  type LedgerService,
  type ListEntriesRequest,
  type ListEntriesResponse,
  type LoadRequest,
  type LoadResponse,
  type SetAccountPolicyRequest,
  type SetAccountPolicyResponse,
  type StreamEntriesRequest,
  type StreamEntriesResponse,
  type TransferRequest,
  type TransferResponse,
} from "../../gen/ledger/v1/ledger_pb.js";
import { parseTransfer } from "../domain/transfer.js";
import {
  toAccountBalance,
  toAdjustBalanceResponse,
  toAuthorizeResponse,
  toLoadResponse,
  toPayout,
  toTransferResponse,
  fromWireStatus,
  toSetAccountPolicyResponse,
} from "./convert.js";
import { parsePolicy } from "../domain/policy.js";
import { checkImmediateAuthorize, parseHoldAction, parseHoldAuthorize } from "../domain/hold-input.js";
import {
  toCaptureResponse,
  toHoldAuthorizeResponse,
  toRawCapture,
  toRawHoldAuthorize,
  toRawVoid,
  toVoidResponse,
} from "./hold-convert.js";
import { toConnectError } from "./errors.js";
import { timeMs, toLedgerEntry, toRawEntryListing } from "./history-convert.js";
import { serveEntryStream, type EntryStreamOptions } from "./entry-stream-rpc.js";
import { BATCH_ITEMS_MAX_DEFAULT } from "../domain/batch.js";
import { parseBatch } from "../domain/batch-parse.js";
import type { ApplyBatchRequest, ApplyBatchResponse } from "../../gen/ledger/v1/ledger_pb.js";
import { toApplyBatchResponse, toRawBatch } from "./batch-convert.js";

type MutationRequest = LoadRequest | AuthorizeRequest | AdjustBalanceRequest;

/** The value of a successful outcome; a failure is thrown as its `ConnectError`. */
function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw toConnectError(outcome.failure);
  return outcome.value;
}

/** The value of a successful parse; violations are thrown as INVALID_ARGUMENT. */
function valid<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw toConnectError({ kind: "invalid_argument", violations: parsed.violations });
  return parsed.value;
}

export class LedgerServiceImpl implements ServiceImpl<typeof LedgerService> {
  constructor(
    private readonly ledger: Ledger,
    private readonly streamOptions: EntryStreamOptions = {},
  ) {}

  async load(request: LoadRequest): Promise<LoadResponse> {
    return toLoadResponse(unwrap(await this.ledger.load(this.parse("load", request))));
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResponse> {
    const raw = toRawHoldAuthorize(request);
    if (request.captureMode === CaptureMode.MANUAL) {
      const { defaultCurrency, amountMinorMax } = this.ledger.options;
      const { holds } = this.ledger;
      const input = valid(parseHoldAuthorize(raw, holds.settings, holds.nowMs(), defaultCurrency, amountMinorMax));
      return toHoldAuthorizeResponse(unwrap(await holds.authorize(input)));
    }
    const input = this.parse("authorize", request);
    valid(checkImmediateAuthorize(raw));
    return toAuthorizeResponse(unwrap(await this.ledger.authorize(input)));
  }

  async capture(request: CaptureRequest): Promise<CaptureResponse> {
    const input = valid(parseHoldAction(toRawCapture(request), true, this.ledger.options.amountMinorMax));
    return toCaptureResponse(unwrap(await this.ledger.holds.capture(input)));
  }

  async void(request: VoidRequest): Promise<VoidResponse> {
    const input = valid(parseHoldAction(toRawVoid(request), false));
    return toVoidResponse(unwrap(await this.ledger.holds.void(input)));
  }

  async adjustBalance(request: AdjustBalanceRequest): Promise<AdjustBalanceResponse> {
    return toAdjustBalanceResponse(unwrap(await this.ledger.adjust(this.parse("adjust", request))));
  }

  async transfer(request: TransferRequest): Promise<TransferResponse> {
    const { defaultCurrency, amountMinorMax } = this.ledger.options;
    const input = valid(parseTransfer(request, defaultCurrency, amountMinorMax));
    return toTransferResponse(input.amount, unwrap(await this.ledger.transfer(input)));
  }

  async setAccountPolicy(request: SetAccountPolicyRequest): Promise<SetAccountPolicyResponse> {
    const raw = { ...request, state: fromWireStatus(request.status) };
    const input = valid(parsePolicy(raw, this.ledger.options.defaultCurrency));
    return toSetAccountPolicyResponse(unwrap(await this.ledger.setPolicy(input)));
  }

  async getBalance(request: GetBalanceRequest): Promise<GetBalanceResponse> {
    const asOfMs = request.asOf === undefined ? undefined : timeMs(request.asOf);
    const query = parseBalanceQuery({
      userId: request.userId,
      currency: request.currency,
      ...(asOfMs === undefined ? {} : { asOfMs }),
    });
    const accounts = unwrap(await this.ledger.getBalance(valid(query)));
    return create(GetBalanceResponseSchema, {
      userId: request.userId,
      balances: accounts.map(toAccountBalance),
    });
  }

  async getPayouts(request: GetPayoutsRequest): Promise<GetPayoutsResponse> {
    const page = unwrap(await this.ledger.getPayouts(valid(parsePayoutQuery(request))));
    return create(GetPayoutsResponseSchema, {
      payouts: page.payouts.map(toPayout),
      nextPageToken: page.nextPageToken,
    });
  }

  async listEntries(request: ListEntriesRequest): Promise<ListEntriesResponse> {
    const page = unwrap(await this.ledger.listEntries(valid(parseEntryListing(toRawEntryListing(request)))));
    return create(ListEntriesResponseSchema, {
      entries: page.entries.map(toLedgerEntry),
      nextPageToken: page.nextPageToken,
    });
  }

  async getEntry(request: GetEntryRequest): Promise<GetEntryResponse> {
    const entry = unwrap(await this.ledger.getEntry(valid(parseEntryId(request.entryId))));
    return create(GetEntryResponseSchema, { entry: toLedgerEntry(entry) });
  }

  streamEntries(request: StreamEntriesRequest, context: HandlerContext): AsyncIterable<StreamEntriesResponse> {
    return serveEntryStream(this.ledger, request, context, this.streamOptions);
  }

  async applyBatch(request: ApplyBatchRequest): Promise<ApplyBatchResponse> {
    const { defaultCurrency, amountMinorMax, batchItemsMax } = this.ledger.options;
    const limits = {
      defaultCurrency,
      amountMinorMax: amountMinorMax ?? AMOUNT_MINOR_MAX_DEFAULT,
      itemsMax: batchItemsMax ?? BATCH_ITEMS_MAX_DEFAULT,
      holds: this.ledger.holds.settings,
      nowMs: this.ledger.holds.nowMs(),
    };
    const input = valid(parseBatch(toRawBatch(request), limits));
    return toApplyBatchResponse(unwrap(await this.ledger.applyBatch(input)));
  }

  private parse(kind: MutationKind, request: MutationRequest): MutationInput {
    const { defaultCurrency, amountMinorMax } = this.ledger.options;
    return valid(parseMutation(kind, request, defaultCurrency, amountMinorMax));
  }
}

/**
 * Conversion between wire messages and domain values, in one place per type: requests are
 * validated into domain input here (through `src/domain/validate.ts`), and domain results become
 * response messages here.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Receipt } from "../domain/ledger.js";
import type { Account, PayoutRow } from "../store/store.js";
import {
  AccountBalanceSchema,
  AdjustBalanceResponseSchema,
  AuthorizeResponseSchema,
  Decision,
  LoadResponseSchema,
  PayoutSchema,
  type AccountBalance,
  type AdjustBalanceResponse,
  type AuthorizeResponse,
  type LoadResponse,
  type Payout,
} from "../../gen/ledger/v1/ledger_pb.js";

export function toLoadResponse({ entry, replayed }: Receipt): LoadResponse {
  return create(LoadResponseSchema, {
    entryId: entry.id,
    userId: entry.userId,
    currency: entry.currency,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    replayed,
    createdAt: timestampFromMs(entry.createdAtMs),
  });
}

export function toAuthorizeResponse({ entry, replayed }: Receipt): AuthorizeResponse {
  return create(AuthorizeResponseSchema, {
    entryId: entry.id,
    decision: entry.status === "applied" ? Decision.APPROVED : Decision.DECLINED,
    userId: entry.userId,
    currency: entry.currency,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    replayed,
    createdAt: timestampFromMs(entry.createdAtMs),
  });
}

export function toAdjustBalanceResponse({ entry, balanceBefore, replayed }: Receipt): AdjustBalanceResponse {
  return create(AdjustBalanceResponseSchema, {
    entryId: entry.id,
    userId: entry.userId,
    currency: entry.currency,
    amount: entry.amount,
    balanceBefore,
    balanceAfter: entry.balanceAfter,
    replayed,
    createdAt: timestampFromMs(entry.createdAtMs),
  });
}

export function toAccountBalance(account: Account): AccountBalance {
  return create(AccountBalanceSchema, {
    currency: account.currency,
    balance: account.balance,
    earned: account.earned,
    spent: account.spent,
    // Four sums by transaction type, as the rewards app reads them; the difference has its own name.
    payout: account.payoutRequested,
    paidOut: account.paidOut,
    payoutRequested: account.payoutRequested,
    loaded: account.loaded,
    authorized: account.authorized,
    declinedCount: account.declinedCount,
    entryCount: account.entryCount,
    overdrawn: account.balance < 0n,
    createdAt: timestampFromMs(account.createdAtMs),
    updatedAt: timestampFromMs(account.updatedAtMs),
    payoutOutstanding: account.payoutRequested - account.paidOut,
  });
}

export function toPayout(row: PayoutRow): Payout {
  return create(PayoutSchema, {
    userId: row.userId,
    currency: row.currency,
    amount: row.requested - row.paidOut,
    requested: row.requested,
    paidOut: row.paidOut,
    updatedAt: timestampFromMs(row.updatedAtMs),
  });
}

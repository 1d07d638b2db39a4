/**
 * Conversion between wire messages and domain values, in one place per type: requests are
 * validated into domain input here (through `src/domain/validate.ts`), and domain results become
 * response messages here.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { AccountView, Receipt } from "../domain/ledger.js";
import type { TransferReceipt } from "../domain/transfer.js";
import type { AccountPolicy, AccountPolicyRow, PayoutRow } from "../store/store.js";
import {
  AccountBalanceSchema,
  AccountStatus,
  SetAccountPolicyResponseSchema,
  type SetAccountPolicyResponse,
  AdjustBalanceResponseSchema,
  AuthorizeResponseSchema,
  Decision,
  LoadResponseSchema,
  PayoutSchema,
  TransferResponseSchema,
  type AccountBalance,
  type AdjustBalanceResponse,
  type AuthorizeResponse,
  type LoadResponse,
  type Payout,
  type TransferResponse,
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

/** Also the base of a manual-capture Authorize's answer (./hold-convert.ts), which adds the hold. */
export function toAuthorizeResponse({ entry, replayed }: Pick<Receipt, "entry" | "replayed">): AuthorizeResponse {
  return create(AuthorizeResponseSchema, {
    entryId: entry.id,
    decision: entry.status === "applied" ? Decision.APPROVED : Decision.DECLINED,
    userId: entry.userId,
    currency: entry.currency,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    replayed,
    createdAt: timestampFromMs(entry.createdAtMs),
    availableAfter: entry.balanceAfter - (entry.heldAfter ?? 0n),
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

export function toTransferResponse(amount: bigint, receipt: TransferReceipt): TransferResponse {
  const { payerEntry, payeeEntry } = receipt;
  return create(TransferResponseSchema, {
    transferId: receipt.transferId,
    payerEntryId: payerEntry.id,
    payeeEntryId: payeeEntry.id,
    payerUserId: payerEntry.userId,
    payeeUserId: payeeEntry.userId,
    currency: payerEntry.currency,
    amount,
    payerBalanceAfter: payerEntry.balanceAfter,
    payeeBalanceAfter: payeeEntry.balanceAfter,
    replayed: receipt.replayed,
    createdAt: timestampFromMs(payerEntry.createdAtMs),
  });
}

const STATUS_TO_WIRE: Record<AccountPolicy["state"], AccountStatus> = {
  active: AccountStatus.ACTIVE,
  frozen: AccountStatus.FROZEN,
  closed: AccountStatus.CLOSED,
};

/** The domain's state for a wire status; `undefined` for UNSPECIFIED or an unknown number. */
export function fromWireStatus(status: AccountStatus): AccountPolicy["state"] | undefined {
  switch (status) {
    case AccountStatus.ACTIVE:
      return "active";
    case AccountStatus.FROZEN:
      return "frozen";
    case AccountStatus.CLOSED:
      return "closed";
    default:
      return undefined;
  }
}

export function toSetAccountPolicyResponse(row: AccountPolicyRow): SetAccountPolicyResponse {
  return create(SetAccountPolicyResponseSchema, {
    userId: row.userId,
    currency: row.currency,
    overdraftLimit: row.overdraftLimit,
    status: STATUS_TO_WIRE[row.state],
    updatedAt: timestampFromMs(row.updatedAtMs),
  });
}

export function toAccountBalance(account: AccountView): AccountBalance {
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
    overdraftLimit: account.policy.overdraftLimit,
    status: STATUS_TO_WIRE[account.policy.state],
    payoutOutstanding: account.payoutRequested - account.paidOut,
    held: account.held,
    available: account.balance - account.held,
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

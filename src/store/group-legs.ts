/**
 * What every store asserts of a group verdict before it appends anything: a broken one is a bug
 * in the domain, and appending it could create or lose money across accounts.
 */
import { assert } from "../assert.js";
import type { AccountKey, AccountState, GroupLeg, GroupMutation } from "./store.js";

const keyOf = (key: AccountKey): string => `${key.userId}\u0000${key.currency}`;

/**
 * Legs may touch one account more than once (a batch that loads then debits it): each leg must
 * then start from the balance the previous leg of that account left, so that the stored
 * balance_after of every leg is the running sum of the account's deltas.
 */
export function assertGroupLegs(
  mutation: GroupMutation<string>,
  legs: readonly GroupLeg[],
  before: readonly (AccountState | undefined)[],
): void {
  assert(legs.length > 0, "a posted group has at least one leg");
  const balances = new Map(mutation.accounts.map((account, index) => [keyOf(account), before[index]?.balance ?? 0n]));
  assert(balances.size === mutation.accounts.length, "a group names each account once");
  for (const leg of legs) {
    const key = keyOf(leg.account);
    const balance = balances.get(key);
    assert(balance !== undefined, `a leg touches ${key}, which its group did not name`);
    assert(
      leg.next.balance === balance + leg.entry.delta,
      `a leg of ${key} moves the balance from ${balance} to ${leg.next.balance}, not by its delta ${leg.entry.delta}`,
    );
    balances.set(key, leg.next.balance);
  }
  if (mutation.idempotency !== null) {
    assert(legs[0]?.account.userId === mutation.idempotency.userId, "the keyed first leg belongs to the key's user");
  }
}

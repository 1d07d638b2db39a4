/**
 * What every store asserts of a group verdict before it appends anything: a broken one is a bug
 * in the domain, and appending it could create or lose money across accounts.
 */
import { assert } from "../assert.js";
import type { AccountKey, GroupLeg, GroupMutation } from "./store.js";

const keyOf = (key: AccountKey): string => `${key.userId}\u0000${key.currency}`;

export function assertGroupLegs(mutation: GroupMutation<string>, legs: readonly GroupLeg[]): void {
  assert(legs.length > 0, "a posted group has at least one leg");
  const named = new Set(mutation.accounts.map(keyOf));
  assert(named.size === mutation.accounts.length, "a group names each account once");
  const seen = new Set<string>();
  for (const leg of legs) {
    const key = keyOf(leg.account);
    assert(named.has(key), `a leg touches ${key}, which its group did not name`);
    assert(!seen.has(key), `two legs of one group touch ${key}`);
    seen.add(key);
  }
  if (mutation.idempotency !== null) {
    assert(legs[0]?.account.userId === mutation.idempotency.userId, "the keyed first leg belongs to the key's user");
  }
}

/**
 * The accounts of one write batch, held in memory while the batch's transaction is open.
 *
 * At c=100 on one hot account every group commit ran about 100 mutations, each reading the same
 * account row and its policy and writing the account row back: three of a mutation's six
 * statements went to one row whose final value is all that survives the COMMIT. Here each
 * account (and its policy) is read once per batch, the domain decides against the state in
 * memory, and each changed account row is written once, at the end of the batch, before COMMIT;
 * every entry still carries its own `balance_after`. The cache lives for one transaction only:
 * it is filled after `BEGIN IMMEDIATE` has taken SQLite's write lock, so no other process (a CLI,
 * a second service process on the same file) can change a row it holds, and it is dropped when
 * the transaction ends, so nothing read in one batch is trusted in the next.
 */
import { assert } from "../../../assert.js";
import type { AccountKey, AccountPolicy, AccountState } from "../../store.js";

/** How the batch reads and writes the rows it caches; the store's prepared statements. */
export interface BatchAccountRows {
  readAccount(key: AccountKey): AccountState | undefined;
  readPolicy(key: AccountKey): AccountPolicy;
  writeAccount(key: AccountKey, state: AccountState): void;
}

interface Slot {
  readonly key: AccountKey;
  /** Absent until the account was first read in this batch. */
  state?: AccountState | undefined;
  stateRead: boolean;
  policy?: AccountPolicy;
  /** Whether `state` differs from the stored row and must be written before COMMIT. */
  dirty: boolean;
}

const slotKey = (key: AccountKey): string => `${key.userId}\u0000${key.currency}`;

export class BatchAccounts {
  private readonly slots = new Map<string, Slot>();
  private flushed = false;

  constructor(private readonly rows: BatchAccountRows) {}

  /** The account as this batch has left it so far (undefined for an account with no row yet). */
  state(key: AccountKey): AccountState | undefined {
    const slot = this.slot(key);
    if (!slot.stateRead) {
      slot.state = this.rows.readAccount(key);
      slot.stateRead = true;
    }
    return slot.state;
  }

  /** The account's policy, read once per batch; `setPolicy` keeps it current. */
  policy(key: AccountKey): AccountPolicy {
    const slot = this.slot(key);
    slot.policy ??= this.rows.readPolicy(key);
    return slot.policy;
  }

  /** Records the account's state after an entry this batch appended; written by `flush`. */
  setState(key: AccountKey, next: AccountState): void {
    assert(!this.flushed, "no account changes after its batch wrote its accounts");
    const slot = this.slot(key);
    slot.state = next;
    slot.stateRead = true;
    slot.dirty = true;
  }

  /** Records a policy this batch stored, so that later mutations of the batch decide under it. */
  setPolicy(key: AccountKey, policy: AccountPolicy): void {
    this.slot(key).policy = policy;
  }

  /** Writes every changed account row once, with its final state. Call once, before COMMIT. */
  flush(): void {
    assert(!this.flushed, "a batch writes its accounts once");
    this.flushed = true;
    for (const slot of this.slots.values()) {
      if (!slot.dirty) continue;
      assert(slot.state !== undefined, "a changed account has a state to write");
      this.rows.writeAccount(slot.key, slot.state);
    }
  }

  private slot(key: AccountKey): Slot {
    const id = slotKey(key);
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = { key: { userId: key.userId, currency: key.currency }, stateRead: false, dirty: false };
      this.slots.set(id, slot);
    }
    return slot;
  }
}

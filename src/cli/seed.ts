/**
 * `npm run seed`: demo accounts for trying the service, through the same ledger rules as the
 * RPCs. Idempotent: running it twice changes nothing the second time.
 */
// First: refuses an unsupported Node before any module can open a database.
import "../node-version.js";
import { readConfig, storeOptions } from "../config.js";
import { Ledger } from "../domain/ledger.js";
import { openStore } from "../store/open.js";

/** The wallet scenario's account: 10,000 minor units, for 10,000 concurrent debits of 2. */
export const WALLET_USER_ID = "wallet-user";

const SEEDS = [
  { userId: WALLET_USER_ID, amount: 10_000n, currency: "USD" },
  { userId: "alice", amount: 50_000n, currency: "USD" },
  { userId: "alice", amount: 20_000n, currency: "EUR" },
  { userId: "bob", amount: 1_500n, currency: "USD" },
  { userId: "074092", amount: 1_200n, currency: "EUR" },
];

const config = readConfig(process.env);
const store = await openStore(storeOptions(config));
try {
  const ledger = new Ledger(store, { defaultCurrency: config.defaultCurrency });
  for (const seed of SEEDS) {
    const outcome = await ledger.load({ ...seed, idempotencyKey: `seed-${seed.userId}-${seed.currency}` });
    if (!outcome.ok) throw new Error(`seeding ${seed.userId} failed: ${outcome.failure.kind}`);
    const { entry, replayed } = outcome.value;
    console.log(`${replayed ? "already seeded" : "seeded"} ${entry.userId}: ${entry.balanceAfter} ${entry.currency}`);
  }
} finally {
  await store.close();
}

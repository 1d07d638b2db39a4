/**
 * How a vendor fact becomes an entry: the domain's rule, which every store runs inside its page
 * transaction. Facts already happened at the vendor, so they are recorded even when they take a
 * balance below zero; only a total that would leave int64 is refused (and quarantined).
 */
import type { FoldFact } from "../store/ingest-port.js";
import type { EntryDraft } from "../store/store.js";
import { applyEntry, balanceDelta } from "./account.js";

export const foldVendorFact: FoldFact = (state, fact, atMs) => {
  const draft: EntryDraft = {
    kind: fact.kind,
    status: "applied",
    amount: fact.amountMinor,
    delta: balanceDelta(fact.kind, fact.amountMinor),
  };
  const next = applyEntry(state, draft, atMs);
  return next === undefined ? undefined : { draft, next };
};

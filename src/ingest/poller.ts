/**
 * The vendor poller: one loop that plans a read, spends one request from the persisted budget,
 * fetches, validates, and commits the page together with the cursor. It never throws out of its
 * loop: the vendor failing, a bad page, or a busy database are logged, counted in `status()`,
 * and retried with backoff.
 *
 * One poller is active per database: it holds a lease row there, renewed every third of its
 * time to live. The others wait in `standby` and take the lease over once it expires (its holder
 * died). Every write of vendor state checks the lease in its own transaction, so a poller that
 * lost it (paused past its expiry, say) writes nothing and reloads the cursor before going on.
 *
 * This file is the public face; the loop is in `poller-run.ts`, the budgeted request and the
 * page commit in `poller-context.ts`, closing in `closing.ts`, and what is done with closed
 * ranges (operator tasks, queued reopens, reconciliation) in `range-tasks.ts`.
 */
import type { VendorPollerStatus } from "./status.js";
import { PollerRun, type VendorPollerOptions } from "./poller-run.js";
import type { RangeDifference, RangeTask } from "./range-tasks.js";
import { cleartextVendorWarning } from "./vendor-client.js";

export { budgetMarginMs, type IngestLogger } from "./poller-context.js";
export { COUNT_CLOSE_BACKOFF_WINDOWS, type VendorPollerOptions } from "./poller-run.js";
export type { RangeDifference, RangeTask } from "./range-tasks.js";

export interface VendorPoller {
  /** A JSON-ready snapshot for GET /healthz and logs. */
  status(): VendorPollerStatus;
  /** Resolves when the loop ends: after `stop()`, or when a catch-up run is done. */
  readonly done: Promise<void>;
  /** Aborts the request in flight, lets a commit in flight finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
}

export function startVendorPoller(options: VendorPollerOptions): VendorPoller {
  const warning = cleartextVendorWarning(options.config.baseUrl);
  if (warning !== undefined) options.logger.warn({ vendor: options.config.baseUrl }, warning);
  const runner = new PollerRun(options);
  const done = runner.run();
  return {
    status: () => runner.snapshot(),
    done,
    stop: async () => {
      runner.context.abort.abort();
      await done;
    },
  };
}

/**
 * Runs an operator's task through the lease (so never beside another active poller's writes)
 * and within the shared budget; resolves with the final status and, for `reconcile`, the
 * windows whose counts differ.
 */
export async function runVendorRangeTask(
  options: Omit<VendorPollerOptions, "mode" | "task">,
  task: RangeTask,
): Promise<{ status: VendorPollerStatus; differences: RangeDifference[] }> {
  const runner = new PollerRun({ ...options, mode: "catch-up", task });
  await runner.run();
  return { status: runner.snapshot(), differences: runner.differences };
}

/** Runs a catch-up to the present and resolves with the final status: `npm run ingest`. */
export async function runVendorBackfill(options: Omit<VendorPollerOptions, "mode">): Promise<VendorPollerStatus> {
  const poller = startVendorPoller({ ...options, mode: "catch-up" });
  await poller.done;
  return poller.status();
}

/**
 * `npm run ingest -- --reopen FROM TO` beside a running service. Only the lease holder may write
 * vendor state, so when another process holds the lease the range is queued in the store
 * instead; the holder reads it in its idle time, within the shared budget, and marks it done.
 * With the lease free, the CLI reads the range itself, as before.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ReopenRequest } from "../store/ingest-port.js";
import { runVendorRangeTask, type VendorPollerOptions } from "./poller.js";
import type { VendorPollerStatus } from "./status.js";

/** How often the CLI looks whether its queued request is done. */
export const REOPEN_POLL_INTERVAL_MS = 500;

export type ReopenOutcome =
  /** The lease was free: this process read the range itself. */
  | { readonly type: "read"; readonly status: VendorPollerStatus }
  /** The lease holder read it (`doneAtMs` set), or had not yet when the wait ran out. */
  | { readonly type: "queued"; readonly request: ReopenRequest };

export async function reopenOrQueue(
  options: Omit<VendorPollerOptions, "mode" | "task" | "holderId">,
  range: { readonly startMs: number; readonly endMs: number },
  waitMs: number,
): Promise<ReopenOutcome> {
  const { ingest } = options.store;
  const clock = options.clock ?? Date.now;
  const holderId = `${hostname()}:${process.pid}:reopen:${randomUUID().slice(0, 8)}`;
  if (await ingest.acquireLease(holderId, clock(), options.config.leaseTtlMs)) {
    // Ours now: read it here (the run renews and then releases the same lease).
    const { status } = await runVendorRangeTask({ ...options, holderId }, { type: "reopen", ...range });
    return { type: "read", status };
  }
  const id = await ingest.queueReopen(range.startMs, range.endMs, clock());
  options.logger.info({ id }, "another poller holds the vendor lease; queued the reopen for it");
  const deadlineMs = clock() + waitMs;
  for (;;) {
    const request = await ingest.getReopen(id);
    if (request === undefined) throw new Error(`reopen request ${id} vanished from the store`);
    if (request.doneAtMs !== null || clock() >= deadlineMs) return { type: "queued", request };
    await new Promise((resolve) => setTimeout(resolve, Math.min(REOPEN_POLL_INTERVAL_MS, deadlineMs - clock())));
  }
}

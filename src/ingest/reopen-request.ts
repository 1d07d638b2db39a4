/**
 * `npm run ingest -- --reopen FROM TO` and `--reconcile FROM TO` beside a running service. Only
 * the lease holder may talk to the vendor for closed history, so when another process holds the
 * lease the request is queued in the store instead; the holder carries it out in its idle time,
 * within the shared budget, and marks it done with what it found. With the lease free, the CLI
 * does it itself, as before.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { RangeDifference, ReopenRequest } from "../store/ingest-port.js";
import { runVendorRangeTask, type RangeTask, type VendorPollerOptions } from "./poller.js";
import type { VendorPollerStatus } from "./status.js";

/** How often the CLI looks whether its queued request is done. */
export const REOPEN_POLL_INTERVAL_MS = 500;

export type ReopenOutcome =
  /** The lease was free: this process did it itself (`differences` for a count check). */
  | { readonly type: "read"; readonly status: VendorPollerStatus; readonly differences: RangeDifference[] }
  /** The lease holder did it (`doneAtMs` set), or had not yet when the wait ran out. */
  | { readonly type: "queued"; readonly request: ReopenRequest };

export async function reopenOrQueue(
  options: Omit<VendorPollerOptions, "mode" | "task" | "holderId">,
  task: RangeTask,
  waitMs: number,
): Promise<ReopenOutcome> {
  const { ingest } = options.store;
  const clock = options.clock ?? Date.now;
  const holderId = `${hostname()}:${process.pid}:${task.type}:${randomUUID().slice(0, 8)}`;
  if (await ingest.acquireLease(holderId, clock(), options.config.leaseTtlMs)) {
    // Ours now: do it here (the run renews and then releases the same lease).
    const { status, differences } = await runVendorRangeTask({ ...options, holderId }, task);
    return { type: "read", status, differences };
  }
  const id = await ingest.queueReopen(task.startMs, task.endMs, clock(), task.type);
  options.logger.info({ id, kind: task.type }, "another poller holds the vendor lease; queued the request for it");
  const deadlineMs = clock() + waitMs;
  for (;;) {
    const request = await ingest.getReopen(id);
    if (request === undefined) throw new Error(`queued request ${id} vanished from the store`);
    if (request.doneAtMs !== null || clock() >= deadlineMs) return { type: "queued", request };
    await new Promise((resolve) => setTimeout(resolve, Math.min(REOPEN_POLL_INTERVAL_MS, deadlineMs - clock())));
  }
}

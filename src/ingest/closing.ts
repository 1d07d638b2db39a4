/**
 * Closing a window: once it is older than the lateness bound, either its count proves that the
 * fresh reads already hold every row of it (one `limit=1` request), or a closing pass reads it
 * page by page and moves the cursor past it when the distinct rows seen reach the vendor's count.
 */
import { foldVendorFact } from "../domain/vendor-fact.js";
import type { VendorCursor } from "../store/ingest-port.js";
import { stepClosingPass, type PassStep } from "./plan.js";
import type { PollerContext } from "./poller-context.js";
import type { Range } from "./reconcile.js";
import { createdAtOfRaw } from "./vendor-row.js";

/**
 * Reads each row once where it can: fresh reads already applied [startMs, endMs), so when the
 * vendor's count of the range, now past its lateness bound, equals what the ledger holds, the
 * range is complete without reading it again (one `limit=1` request instead of its pages).
 * Answers the moved cursor, or undefined when the counts differ and a closing pass must read.
 */
export async function closeByCount(
  context: PollerContext,
  cursor: VendorCursor,
  startMs: number,
  endMs: number,
): Promise<VendorCursor | undefined> {
  const page = await context.request("count", startMs, endMs, 1, 1);
  if (page === undefined) return undefined;
  context.observeRate(startMs, endMs, page.totalItems);
  const held = await context.ingest.countHeldRows(startMs, endMs, createdAtOfRaw);
  if (held !== page.totalItems) return undefined;
  const outcome = await context.ingest.commitPage({
    holderId: context.holderId,
    rows: [],
    currency: context.config.currency,
    fold: foldVendorFact,
    closing: () => ({ ...cursor, closedUntilMs: endMs, pass: null }),
  });
  context.status.recordPage(outcome, []);
  context.status.windowsClosed += 1;
  context.status.windowsClosedByCount += 1;
  return outcome.cursor ?? cursor;
}

/**
 * Reads the closing pass's next page and commits it with the cursor the pass moves to; when that
 * closes the range verified, tells `onVerified` the vendor's count of it.
 */
export async function closingPage(
  context: PollerContext,
  cursor: VendorCursor,
  onVerified: (range: Range, vendorCount: number) => Promise<void>,
): Promise<VendorCursor> {
  const { status, logger } = context;
  const pass = cursor.pass;
  if (pass === null) return cursor;
  const page = await context.request("closing", pass.startMs, pass.endMs, pass.nextPage);
  if (page === undefined) return cursor;
  if (pass.nextPage === 1) context.observeRate(pass.startMs, pass.endMs, page.totalItems);
  let step: PassStep | undefined;
  const outcome = await context.commit(page, (distinct) => {
    const meta = {
      page: pass.nextPage,
      itemCount: page.items.items.length,
      totalItems: page.totalItems,
      totalPages: page.totalPages,
    };
    step = stepClosingPass(cursor, pass, meta, distinct);
    return step.cursor;
  });
  if (step?.type === "closed") {
    status.windowsClosed += 1;
    if (step.verified) await onVerified(pass, pass.totalItems ?? page.totalItems);
    else {
      status.windowsClosedUnverified += 1;
      logger.warn(
        { startMs: pass.startMs, endMs: pass.endMs },
        "vendor counts never matched this window's rows; closed it after the last attempt",
      );
    }
  } else if (step?.type === "again") {
    status.windowsReread += 1;
    logger.warn(
      { startMs: pass.startMs, endMs: pass.endMs, totalItems: page.totalItems },
      "rows shifted between pages; reading the window again",
    );
  }
  return outcome ?? cursor;
}

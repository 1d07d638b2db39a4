/**
 * `npm run export -- [--user U] [--from T] [--to T] [--format ndjson|csv]`: writes entries to
 * stdout in id order, one line each, streaming: the ledger is read in pages of
 * EXPORT_PAGE_ENTRIES and each page is written (waiting for stdout to drain) before the next is
 * read, so memory stays flat however long the ledger is. T is an RFC 3339 instant or epoch
 * milliseconds; --from is inclusive and --to exclusive, on the recording time. Money is written
 * as integer minor units in strings (NDJSON) or bare integers (CSV), never as floats.
 *
 * Entries committed while an export runs are included when their id is beyond the page being
 * read; for a fixed range, pass a --to in the past.
 */
// First: refuses an unsupported Node before any module can open a database.
import "../node-version.js";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { readConfig, storeOptions } from "../config.js";
import { checkUserId, Violations } from "../domain/validate.js";
import { openStore } from "../store/open.js";
import type { Entry, EntryScan } from "../store/store.js";

/** Entries read per page: bounds the memory of an export. */
const EXPORT_PAGE_ENTRIES = 1000;

const CSV_COLUMNS = [
  "id",
  "user_id",
  "currency",
  "kind",
  "status",
  "amount",
  "delta",
  "balance_after",
  "idempotency_key",
  "vendor_id",
  "occurred_at",
  "created_at",
] as const;

type Format = "ndjson" | "csv";

function fieldsOf(entry: Entry): Record<(typeof CSV_COLUMNS)[number], string> {
  return {
    id: entry.id.toString(),
    user_id: entry.userId,
    currency: entry.currency,
    kind: entry.kind,
    status: entry.status,
    amount: entry.amount.toString(),
    delta: entry.delta.toString(),
    balance_after: entry.balanceAfter.toString(),
    idempotency_key: entry.idempotencyKey ?? "",
    vendor_id: entry.externalId ?? "",
    occurred_at: new Date(entry.occurredAtMs).toISOString(),
    created_at: new Date(entry.createdAtMs).toISOString(),
  };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatEntry(entry: Entry, format: Format): string {
  const fields = fieldsOf(entry);
  if (format === "ndjson") return `${JSON.stringify(fields)}\n`;
  return `${CSV_COLUMNS.map((column) => csvField(fields[column])).join(",")}\n`;
}

function parseInstant(violations: Violations, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^-?[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms))
    violations.add(flag, "INVALID_FORMAT", `${flag} must be an RFC 3339 instant or epoch milliseconds`);
  return ms;
}

function parseCommandLine(argv: string[]): { scan: Omit<EntryScan, "afterId" | "limit">; format: Format } {
  const { values } = parseArgs({
    args: argv,
    options: { user: { type: "string" }, from: { type: "string" }, to: { type: "string" }, format: { type: "string" } },
    strict: true,
  });
  const violations = new Violations();
  if (values.user !== undefined) checkUserId(violations, values.user, "--user");
  const fromMs = parseInstant(violations, "--from", values.from);
  const toMs = parseInstant(violations, "--to", values.to);
  const format = values.format ?? "ndjson";
  if (format !== "ndjson" && format !== "csv")
    violations.add("--format", "INVALID_VALUE", "--format must be ndjson or csv");
  const result = violations.result({
    scan: {
      ...(values.user === undefined ? {} : { userId: values.user }),
      ...(fromMs === undefined ? {} : { fromMs }),
      ...(toMs === undefined ? {} : { toMs }),
    },
    format: format as Format,
  });
  if (!result.ok) throw new UsageError(result.violations.map((violation) => violation.description).join("; "));
  return result.value;
}

class UsageError extends Error {}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}

async function main(): Promise<void> {
  const { scan, format } = parseCommandLine(process.argv.slice(2));
  const store = await openStore(storeOptions(readConfig(process.env)));
  try {
    if (format === "csv") await write(`${CSV_COLUMNS.join(",")}\n`);
    let afterId = 0n;
    for (;;) {
      const page = await store.scanEntries({ ...scan, afterId, limit: EXPORT_PAGE_ENTRIES });
      const last = page.at(-1);
      if (last === undefined) break;
      await write(page.map((entry) => formatEntry(entry, format)).join(""));
      afterId = last.id;
    }
  } finally {
    await store.close();
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
  // parseArgs reports unknown flags as TypeError with a readable message.
  console.error(`export: ${error.message}`);
  console.error("usage: npm run export -- [--user U] [--from T] [--to T] [--format ndjson|csv]");
  process.exitCode = 2;
}

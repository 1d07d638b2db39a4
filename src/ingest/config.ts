/**
 * The vendor poller's settings, read from LEDGER_VENDOR_* and validated at start-up. Every
 * duration is in milliseconds and named with its unit last; docs/ingest.md lists them all.
 */
import { isKnownCurrency, minorUnitDigits } from "../domain/currency.js";
import { parseInstantMs } from "./vendor-row.js";

export interface VendorConfig {
  /** LEDGER_VENDOR_URL: the vendor's base URL; `/transactions` is appended. */
  readonly baseUrl: string;
  /** LEDGER_VENDOR_REQUESTS_PER_MINUTE: most requests, retries included, per budget window. Default 5. */
  readonly requestsPerWindow: number;
  /** LEDGER_VENDOR_BUDGET_WINDOW_MS: the window the budget counts over. Default 60000 (a minute); tests shorten it. */
  readonly budgetWindowMs: number;
  /** LEDGER_VENDOR_PAGE_SIZE: transactions asked for per request, 1 to 1000. Default 1000. */
  readonly pageSize: number;
  /** LEDGER_VENDOR_START: the first instant to ingest (ISO 8601). Default: the first start's time. Used only once, when the cursor is created. */
  readonly startMs: number;
  /** LEDGER_VENDOR_CURRENCY: the currency of vendor amounts. Default EUR. */
  readonly currency: string;
  /** Decimal places of `currency`'s minor unit (2 for EUR). */
  readonly minorDigits: number;
  /** LEDGER_VENDOR_LATENESS_MS: how late a transaction may appear after its createdAt. Default 60000. */
  readonly latenessMs: number;
  /**
   * LEDGER_VENDOR_WINDOW_MS: the longest closable time that gathers before a closing pass; while
   * following, a pass starts sooner, once about 95% of a page is closable at the measured rate. Default 60000.
   */
  readonly windowMs: number;
  /** LEDGER_VENDOR_BACKFILL_WINDOW_MS: the longest range one closing pass covers. Default 3600000. */
  readonly backfillWindowMs: number;
  /**
   * LEDGER_VENDOR_POLL_INTERVAL_MS: least time between two reads of the newest data. Default 15000.
   * Fresh reads run at this interval, a multiple of it, or not at all: as often as the budget
   * affords beside closing every row once.
   */
  readonly pollIntervalMs: number;
  /** LEDGER_VENDOR_TIMEOUT_MS: how long one request may take, body included. Default 10000. */
  readonly timeoutMs: number;
  /** LEDGER_VENDOR_BACKOFF_BASE_MS: the first retry's delay before jitter. Default 1000. */
  readonly backoffBaseMs: number;
  /** LEDGER_VENDOR_BACKOFF_MAX_MS: the longest retry delay, Retry-After aside. Default 60000. */
  readonly backoffMaxMs: number;
  /**
   * LEDGER_VENDOR_LEASE_TTL_MS: how long the active poller's lease lasts unless renewed (every
   * third of it). Another process takes over this long after the holder dies. Default 15000.
   */
  readonly leaseTtlMs: number;
  /**
   * LEDGER_VENDOR_RECONCILE_HORIZON_MS: how far back from the closed cursor spare budget
   * re-counts history against the vendor's totals, to recover rows that appeared after their
   * window closed. 0 turns reconciliation off. Default 2592000000 (30 days).
   */
  readonly reconcileHorizonMs: number;
}

/**
 * Reads the vendor settings. Answers `undefined` when LEDGER_VENDOR_URL is unset (the poller is
 * off) and throws an Error naming every bad variable otherwise.
 */
export function readVendorConfig(env: NodeJS.ProcessEnv, nowMs: number = Date.now()): VendorConfig | undefined {
  const baseUrl = env["LEDGER_VENDOR_URL"];
  if (baseUrl === undefined || baseUrl === "") return undefined;
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  if (!/^https?:\/\/[^\s]+$/.test(baseUrl) || !URL.canParse(baseUrl)) {
    problems.push(`LEDGER_VENDOR_URL must be an http or https URL, got "${baseUrl}"`);
  }
  const currency = env["LEDGER_VENDOR_CURRENCY"] || "EUR";
  if (!/^[A-Z]{3}$/.test(currency) || !isKnownCurrency(currency)) {
    problems.push(`LEDGER_VENDOR_CURRENCY must be an ISO 4217 code such as EUR, got "${currency}"`);
  }
  const startText = env["LEDGER_VENDOR_START"];
  let startMs = nowMs;
  if (startText !== undefined && startText !== "") {
    const parsed = parseInstantMs(startText);
    if (parsed === undefined)
      problems.push(`LEDGER_VENDOR_START must be an ISO 8601 instant such as 2023-02-01T00:00:00Z, got "${startText}"`);
    else startMs = parsed;
  }
  const config: VendorConfig = {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    requestsPerWindow: integer("LEDGER_VENDOR_REQUESTS_PER_MINUTE", 5, 1, 1_000_000),
    budgetWindowMs: integer("LEDGER_VENDOR_BUDGET_WINDOW_MS", 60_000, 100, 3_600_000),
    pageSize: integer("LEDGER_VENDOR_PAGE_SIZE", 1000, 1, 1000),
    // Whole seconds: the vendor's query has no finer unit.
    startMs: Math.floor(startMs / 1000) * 1000,
    currency,
    minorDigits: isKnownCurrency(currency) ? minorUnitDigits(currency) : 2,
    latenessMs: integer("LEDGER_VENDOR_LATENESS_MS", 60_000, 0, 86_400_000),
    windowMs: integer("LEDGER_VENDOR_WINDOW_MS", 60_000, 1000, 86_400_000),
    backfillWindowMs: integer("LEDGER_VENDOR_BACKFILL_WINDOW_MS", 3_600_000, 1000, 31 * 86_400_000),
    pollIntervalMs: integer("LEDGER_VENDOR_POLL_INTERVAL_MS", 15_000, 0, 3_600_000),
    timeoutMs: integer("LEDGER_VENDOR_TIMEOUT_MS", 10_000, 100, 600_000),
    backoffBaseMs: integer("LEDGER_VENDOR_BACKOFF_BASE_MS", 1000, 1, 600_000),
    backoffMaxMs: integer("LEDGER_VENDOR_BACKOFF_MAX_MS", 60_000, 1, 3_600_000),
    leaseTtlMs: integer("LEDGER_VENDOR_LEASE_TTL_MS", 15_000, 300, 600_000),
    reconcileHorizonMs: integer("LEDGER_VENDOR_RECONCILE_HORIZON_MS", 30 * 86_400_000, 0, 366 * 86_400_000),
  };
  if (config.backfillWindowMs < config.windowMs) {
    problems.push("LEDGER_VENDOR_BACKFILL_WINDOW_MS must be at least LEDGER_VENDOR_WINDOW_MS");
  }
  if (problems.length > 0) throw new Error(`invalid vendor configuration:\n  - ${problems.join("\n  - ")}`);
  return config;
}

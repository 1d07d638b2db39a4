/**
 * ISO 4217 currencies as the runtime's ICU data knows them.
 *
 * We accept only codes that ICU lists so that a typo ("USS") is refused instead of silently
 * opening an account in a currency nobody can settle.
 */

const knownCurrencies: ReadonlySet<string> = new Set(Intl.supportedValuesOf("currency"));

/** True when `code` is an upper-case ISO 4217 alphabetic code that ICU knows. */
export function isKnownCurrency(code: string): boolean {
  return knownCurrencies.has(code);
}

/**
 * How many decimal places the currency's minor unit has (2 for EUR and USD, 0 for JPY, 3 for BHD).
 * Only the vendor's decimal amounts need it: every amount inside the ledger is already in minor
 * units.
 */
export function minorUnitDigits(code: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions()
    .maximumFractionDigits ?? 2;
}

/**
 * The seeds' amounts are in major units ("100.23" USD, 10000 wallet credits): converted here,
 * once, exactly, to and from the ledger's minor units, with the currency's own number of
 * decimals. The input is the text the caller sent (a JSON string or the JSON number's literal),
 * never a double.
 */
import { isKnownCurrency, minorUnitDigits } from "../../domain/currency.js";
import { decimalToMinor } from "../../ingest/decimal.js";
import { JsonNumber, type JsonValue } from "../../ingest/exact-json.js";

export type MinorAmount =
  { readonly ok: true; readonly minor: bigint } | { readonly ok: false; readonly message: string };

/**
 * Reads a signed major-unit amount (`-2`, `"100.23"`) as minor units of `currency`. Zero is left
 * to the RPC, which refuses it with its own message.
 */
export function majorToMinor(value: JsonValue | undefined, currency: string, field: string): MinorAmount {
  if (!isKnownCurrency(currency)) return { ok: false, message: `${currency} is not an ISO 4217 currency code` };
  const text = value instanceof JsonNumber ? value.text : typeof value === "string" ? value.trim() : undefined;
  if (text === undefined) return { ok: false, message: `${field} must be a number or a decimal string` };
  const negative = text.startsWith("-");
  const magnitude = negative ? text.slice(1) : text;
  if (/^0*(\.0*)?$/.test(magnitude) && magnitude !== "") return { ok: true, minor: 0n };
  const converted = decimalToMinor(magnitude, minorUnitDigits(currency));
  if (!converted.ok) return { ok: false, message: `${field}: ${converted.detail}` };
  return { ok: true, minor: negative ? -converted.minor : converted.minor };
}

/** Minor units as major-unit decimal text: 10023n USD is "100.23", -5n USD is "-0.05", 7n JPY is "7". */
export function minorToMajor(minor: bigint, currency: string): string {
  const digits = isKnownCurrency(currency) ? minorUnitDigits(currency) : 2;
  const sign = minor < 0n ? "-" : "";
  const magnitude = (minor < 0n ? -minor : minor).toString().padStart(digits + 1, "0");
  if (digits === 0) return sign + magnitude;
  return `${sign}${magnitude.slice(0, -digits)}.${magnitude.slice(-digits)}`;
}

/** The same amount as a JSON number literal without trailing zeros: "9998.00" becomes 9998. */
export function minorToJsonNumber(minor: bigint, currency: string): string {
  const text = minorToMajor(minor, currency);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

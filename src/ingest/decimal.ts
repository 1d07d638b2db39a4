/**
 * Exact conversion of a vendor's decimal amount (`1.2` EUR) into minor units (`120n`).
 *
 * The input is the JSON number's text, never a double. The rule, documented in docs/ingest.md:
 * an amount is accepted when it is a JSON number whose exact value is a whole number of minor
 * units, greater than zero and at most 2^63 - 1 minor units. So `0.1` is 10, `19.99` is 1999,
 * `1e2` is 10000, `1.50` and `1.500` are 150; `1.005` (a fraction of a cent), `0`, `-0`, `-3`
 * and `1e30` are refused with a reason, and the row goes to quarantine.
 */
import { INT64_MAX } from "../domain/money.js";

export type AmountRefusal = "not_a_number" | "not_positive" | "too_precise" | "out_of_range";

export type MinorUnits =
  | { readonly ok: true; readonly minor: bigint }
  | { readonly ok: false; readonly reason: AmountRefusal; readonly detail: string };

/** Longest number text converted: bounds the bigint work a hostile page can cause. */
export const AMOUNT_TEXT_LENGTH_MAX = 64;
// int64 has 19 digits, so a scale beyond this can only overflow.
const SCALE_UP_MAX = 40;
const JSON_NUMBER = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

export function decimalToMinor(text: string, minorDigits: number): MinorUnits {
  if (text.length > AMOUNT_TEXT_LENGTH_MAX) {
    return refuse("out_of_range", `amount has more than ${AMOUNT_TEXT_LENGTH_MAX} characters`);
  }
  const match = JSON_NUMBER.exec(text);
  if (match === null) return refuse("not_a_number", `amount ${text} is not a JSON number`);
  const [, sign = "", whole = "", fraction = "", exponentText = "0"] = match;
  const mantissa = BigInt(whole + fraction);
  if (mantissa === 0n) return refuse("not_positive", `amount ${text} is zero`);
  if (sign === "-") return refuse("not_positive", `amount ${text} is negative`);
  // An exponent this long is either an overflow or a fraction far below one minor unit.
  if (exponentText.replace(/^[+-]/, "").length > 6) {
    return exponentText.startsWith("-")
      ? refuse("too_precise", `amount ${text} has more decimals than the currency's ${minorDigits}`)
      : refuse("out_of_range", `amount ${text} exceeds 2^63 - 1 minor units`);
  }
  const scale = Number(exponentText) - fraction.length + minorDigits;
  let minor: bigint;
  if (scale >= 0) {
    if (scale > SCALE_UP_MAX) return refuse("out_of_range", `amount ${text} exceeds 2^63 - 1 minor units`);
    minor = mantissa * 10n ** BigInt(scale);
  } else {
    // The mantissa has at most AMOUNT_TEXT_LENGTH_MAX digits, so a larger divisor cannot divide it.
    const divisor = -scale > AMOUNT_TEXT_LENGTH_MAX ? undefined : 10n ** BigInt(-scale);
    if (divisor === undefined || mantissa % divisor !== 0n) {
      return refuse("too_precise", `amount ${text} has more decimals than the currency's ${minorDigits}`);
    }
    minor = mantissa / divisor;
  }
  if (minor > INT64_MAX) return refuse("out_of_range", `amount ${text} exceeds 2^63 - 1 minor units`);
  return { ok: true, minor };
}

function refuse(reason: AmountRefusal, detail: string): MinorUnits {
  return { ok: false, reason, detail };
}

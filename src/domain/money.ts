/**
 * Exact money arithmetic on minor units.
 *
 * Every amount and balance is a `bigint` bounded to the signed 64-bit range that protobuf `int64`
 * and SQLite INTEGER share, so a value we accept can always be stored and sent back unchanged.
 */

/** The largest amount or balance we keep: 2^63 - 1 minor units. */
export const INT64_MAX = 2n ** 63n - 1n;
/** The smallest amount or balance we keep: -2^63 minor units. */
export const INT64_MIN = -(2n ** 63n);

/** True when `value` fits a signed 64-bit integer. */
export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/**
 * Adds a non-negative increment to a lifetime total, stopping at 2^63 - 1 instead of refusing:
 * a total that no longer counts must not block a valid mutation (a balance is never saturated).
 */
export function saturatingAddInt64(total: bigint, increment: bigint): bigint {
  const sum = total + increment;
  return sum > INT64_MAX ? INT64_MAX : sum;
}

/**
 * Adds two int64 values, answering `undefined` instead of a result outside int64: callers turn
 * that into a rejection, because a wrapped or widened balance could not be stored or trusted.
 */
export function addInt64(a: bigint, b: bigint): bigint | undefined {
  const sum = a + b;
  return isInt64(sum) ? sum : undefined;
}

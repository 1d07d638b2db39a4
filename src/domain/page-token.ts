/**
 * Opaque page tokens for keyset pagination: the last (user, currency) of a page, so the next page
 * starts strictly after it and stays correct while payouts are added or paid between pages.
 */
import type { AccountKey } from "../store/store.js";

export function encodePageToken(last: AccountKey): string {
  return Buffer.from(JSON.stringify([last.userId, last.currency]), "utf8").toString("base64url");
}

/** The position a token names, or `undefined` for a token we did not issue. */
export function decodePageToken(token: string): AccountKey | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      typeof decoded[0] === "string" &&
      typeof decoded[1] === "string"
    ) {
      return { userId: decoded[0], currency: decoded[1] };
    }
  } catch {
    // Not JSON: fall through to "not ours".
  }
  return undefined;
}

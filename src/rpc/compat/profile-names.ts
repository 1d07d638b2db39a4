/**
 * The names LEDGER_COMPAT accepts, apart from the routes so that reading the configuration does
 * not load them.
 */

export const COMPAT_PROFILES = ["card", "wallet", "rewards"] as const;
export type CompatProfile = (typeof COMPAT_PROFILES)[number];

/** Parses LEDGER_COMPAT ("card,wallet"): the profiles, or the problem naming the unknown ones. */
export function parseCompatProfiles(text: string): { profiles: CompatProfile[]; problem: string | undefined } {
  const names = text
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const unknown = names.filter((name) => !(COMPAT_PROFILES as readonly string[]).includes(name));
  const profiles = [...new Set(names.filter((name): name is CompatProfile => !unknown.includes(name)))];
  const problem =
    unknown.length === 0
      ? undefined
      : `LEDGER_COMPAT lists unknown profile(s) ${unknown.join(", ")}; known: ${COMPAT_PROFILES.join(", ")}`;
  return { profiles, problem };
}

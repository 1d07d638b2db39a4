/**
 * API keys: how they are made, written in the keys file, and recognised.
 *
 * A key is 32 random bytes (256 bits) from the operating system's CSPRNG, shown to its owner
 * once. The server keeps only its SHA-256. A fast hash is the right tool here, unlike for
 * passwords: slow hashes (bcrypt, scrypt, argon2) exist to make guessing low-entropy secrets
 * expensive, but nobody can enumerate 2^256 keys at any speed, and a slow hash would add
 * milliseconds to every call. A stolen keys file therefore reveals no usable key.
 *
 * Keys file format, one key a line, `#` starts a comment:
 *
 *     <name> <scope>[,<scope>...] sha256:<64 hex digits>
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export type Scope = "read" | "write" | "admin";

export const SCOPES: readonly Scope[] = ["read", "write", "admin"];

/** Every key starts with this, so that secret scanners and humans can recognise a leaked one. */
export const API_KEY_PREFIX = "ldg_";

/** Random bytes in a key: 256 bits of entropy. */
const API_KEY_RANDOM_BYTES = 32;

const NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
const HASH_PATTERN = /^sha256:([0-9a-f]{64})$/;

export interface ApiKeyRecord {
  /** Who holds the key; appears in logs and errors instead of the key. */
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** SHA-256 of the key, 32 bytes. */
  readonly hash: Buffer;
}

/** A new random key, to be shown once and never stored in clear by the server. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(API_KEY_RANDOM_BYTES).toString("base64url");
}

export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** The keys-file line that grants `key` the given scopes. */
export function keyFileLine(name: string, scopes: readonly Scope[], key: string): string {
  return `${name} ${scopes.join(",")} sha256:${hashApiKey(key).toString("hex")}`;
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function isValidKeyName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/**
 * Parses keys-file text (or the `LEDGER_API_KEYS` variable, where `;` may also separate lines).
 * Collects every problem, naming `source` and the line, so an operator fixes them all at once.
 */
export function parseApiKeys(text: string, source: string): { keys: ApiKeyRecord[]; problems: string[] } {
  const keys: ApiKeyRecord[] = [];
  const problems: string[] = [];
  const names = new Set<string>();
  text.split(/[\n;]/).forEach((rawLine, index) => {
    const line = rawLine.replace(/#.*$/, "").trim();
    if (line === "") return;
    const where = `${source} line ${index + 1}`;
    const [name = "", scopeList = "", hash = "", ...rest] = line.split(/\s+/);
    const digest = HASH_PATTERN.exec(hash)?.[1];
    const scopes = scopeList.split(",").filter((scope) => scope !== "");
    if (rest.length > 0 || digest === undefined) {
      problems.push(`${where}: expected "<name> <scopes> sha256:<64 hex digits>" (a key is never written in clear)`);
    } else if (!isValidKeyName(name)) {
      problems.push(`${where}: the name must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -`);
    } else if (names.has(name)) {
      problems.push(`${where}: the name ${name} is used twice`);
    } else if (scopes.length === 0 || !scopes.every(isScope)) {
      problems.push(`${where}: scopes must be a comma-separated list of ${SCOPES.join(", ")}`);
    } else {
      names.add(name);
      keys.push({ name, scopes: new Set(scopes), hash: Buffer.from(digest, "hex") });
    }
  });
  return { keys, problems };
}

/** The configured keys, looked up in time that does not depend on how much of a guess matched. */
export class ApiKeyring {
  constructor(private readonly keys: readonly ApiKeyRecord[]) {}

  get size(): number {
    return this.keys.length;
  }

  /**
   * The record of `token`, if it is a configured key. Every stored hash is compared, in
   * constant time, with no early exit: neither the position of a match nor a shared prefix
   * shows in the timing. Comparing hashes rather than keys also fixes the compared length.
   */
  find(token: string): ApiKeyRecord | undefined {
    const presented = hashApiKey(token);
    let found: ApiKeyRecord | undefined;
    for (const record of this.keys) {
      if (timingSafeEqual(presented, record.hash) && found === undefined) found = record;
    }
    return found;
  }
}

/**
 * `npm run keys:issue -- --scopes read,write --name payments`: makes a new API key, prints it
 * once for its holder, and prints the line to add to the keys file. The server never sees the
 * key itself, only its SHA-256, so a lost key is replaced, not recovered.
 */
import { parseArgs } from "node:util";
import { generateApiKey, isScope, isValidKeyName, keyFileLine, SCOPES, type Scope } from "../rpc/api-keys.js";

function fail(message: string): never {
  console.error(`keys:issue: ${message}`);
  console.error("usage: npm run keys:issue -- --name <holder> --scopes read[,write][,admin]");
  process.exit(2);
}

function parseScopes(list: string): Scope[] {
  const scopes = [
    ...new Set(
      list
        .split(",")
        .map((scope) => scope.trim())
        .filter((scope) => scope !== ""),
    ),
  ];
  if (scopes.length === 0 || !scopes.every(isScope))
    fail(`--scopes must list some of ${SCOPES.join(", ")}, got "${list}"`);
  return scopes;
}

let values: { name?: string | undefined; scopes?: string | undefined };
try {
  ({ values } = parseArgs({ options: { name: { type: "string" }, scopes: { type: "string" } }, strict: true }));
} catch (error) {
  fail((error as Error).message);
}
const name = values.name ?? fail("--name is required");
if (!isValidKeyName(name)) fail("--name must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
const scopes = parseScopes(values.scopes ?? fail("--scopes is required"));
const key = generateApiKey();

console.log(`API key for ${name} (shown once; give it to its holder, store it as a secret):`);
console.log(`  ${key}`);
console.log("Add this line to the keys file (LEDGER_API_KEYS_FILE), then restart the service:");
console.log(`  ${keyFileLine(name, scopes, key)}`);

/**
 * Reads the configured API keys (file and environment) into a keyring at start-up, failing
 * with every problem named when a line is malformed or the file cannot be read.
 */
import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";
import { ApiKeyring, parseApiKeys, type ApiKeyRecord } from "./api-keys.js";

/** The keyring, or null when authentication is off. */
export function loadKeyring(config: Pick<Config, "auth" | "apiKeysFile" | "apiKeys">): ApiKeyring | null {
  if (config.auth === "off") return null;
  const keys: ApiKeyRecord[] = [];
  const problems: string[] = [];
  const add = (text: string, source: string) => {
    const parsed = parseApiKeys(text, source);
    keys.push(...parsed.keys);
    problems.push(...parsed.problems);
  };
  if (config.apiKeysFile !== "") {
    try {
      add(readFileSync(config.apiKeysFile, "utf8"), `LEDGER_API_KEYS_FILE ${config.apiKeysFile}`);
    } catch (error) {
      problems.push(`LEDGER_API_KEYS_FILE ${config.apiKeysFile} cannot be read: ${(error as Error).message}`);
    }
  }
  if (config.apiKeys !== "") add(config.apiKeys, "LEDGER_API_KEYS");
  const names = keys.map((key) => key.name);
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  if (repeated.length > 0)
    problems.push(`key names used twice across the file and LEDGER_API_KEYS: ${repeated.join(", ")}`);
  if (problems.length === 0 && keys.length === 0) problems.push("LEDGER_AUTH=on but no API key is configured");
  if (problems.length > 0) throw new ConfigError(problems);
  return new ApiKeyring(keys);
}

/**
 * Reads the TLS certificate and key named by the configuration at start-up, so that a missing
 * or unreadable file stops the start with its name instead of failing the first handshake.
 */
import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";

export interface TlsFiles {
  /** PEM certificate chain, leaf first. */
  readonly cert: Buffer;
  /** PEM private key of the leaf certificate. */
  readonly key: Buffer;
}

/** The certificate and key, or undefined when TLS is not configured. */
export function loadTlsFiles(config: Pick<Config, "tlsCertPath" | "tlsKeyPath">): TlsFiles | undefined {
  if (config.tlsCertPath === "" || config.tlsKeyPath === "") return undefined;
  const problems: string[] = [];
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      problems.push(`${name} ${path} cannot be read: ${(error as Error).message}`);
      return Buffer.alloc(0);
    }
  };
  const files = { cert: read("LEDGER_TLS_CERT", config.tlsCertPath), key: read("LEDGER_TLS_KEY", config.tlsKeyPath) };
  if (problems.length > 0) throw new ConfigError(problems);
  return files;
}

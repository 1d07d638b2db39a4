/**
 * The start-up checks that keep a careless configuration from exposing the ledger: a service
 * that moves money must not answer unauthenticated calls from the network, so a non-loopback
 * address requires authentication unless the operator says, explicitly, that something in front
 * of the service authenticates (LEDGER_ALLOW_INSECURE_PUBLIC=true). And a bearer key sent over
 * cleartext can be read by anyone on the path, so keys on a non-loopback address require TLS,
 * here or (LEDGER_TLS_TERMINATED_UPSTREAM=true) in a proxy in front.
 */
import { isIP } from "node:net";

/** The subset of the configuration these checks read. */
export interface SecuritySettings {
  readonly host: string;
  readonly auth: "on" | "off";
  readonly apiKeysFile: string;
  readonly apiKeys: string;
  readonly tlsCertPath: string;
  readonly tlsKeyPath: string;
  readonly allowInsecurePublic: boolean;
  readonly tlsTerminatedUpstream: boolean;
  readonly metricsOpen: "none" | "loopback";
}

/**
 * True for addresses only this machine can reach: 127.0.0.0/8 (also as an IPv4-mapped IPv6
 * address, as a dual-stack socket reports its IPv4 peers), ::1 and "localhost".
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
  if (bare === "localhost" || bare === "::1") return true;
  return isIP(bare) === 4 && bare.startsWith("127.");
}

export function secureDefaultsProblems(settings: SecuritySettings): string[] {
  const problems: string[] = [];
  if (settings.auth === "on" && settings.apiKeysFile === "" && settings.apiKeys === "") {
    problems.push("LEDGER_AUTH=on needs keys: set LEDGER_API_KEYS_FILE or LEDGER_API_KEYS (see `npm run keys:issue`)");
  }
  if (settings.auth === "off" && !isLoopbackHost(settings.host) && !settings.allowInsecurePublic) {
    problems.push(
      `refusing to listen on ${settings.host} with authentication off: anyone who reaches it could move money. ` +
        "Issue keys (`npm run keys:issue`) and set LEDGER_API_KEYS_FILE, or listen on 127.0.0.1, " +
        "or set LEDGER_ALLOW_INSECURE_PUBLIC=true if a proxy in front authenticates every call",
    );
  }
  const tlsHere = settings.tlsCertPath !== "" && settings.tlsKeyPath !== "";
  if (settings.auth === "on" && !isLoopbackHost(settings.host) && !tlsHere && !settings.tlsTerminatedUpstream) {
    problems.push(
      `refusing to listen on ${settings.host} with authentication on but without TLS: API keys would cross the network in clear. ` +
        "Set LEDGER_TLS_CERT and LEDGER_TLS_KEY, or listen on 127.0.0.1, " +
        "or set LEDGER_TLS_TERMINATED_UPSTREAM=true if a proxy or load balancer in front terminates TLS",
    );
  }
  // A proxy that terminates TLS usually runs on this machine, and then every request it forwards
  // comes from loopback: opening /metrics to loopback would open it to the whole network.
  if (settings.metricsOpen === "loopback" && settings.tlsTerminatedUpstream) {
    problems.push(
      "LEDGER_METRICS_OPEN=loopback cannot be combined with LEDGER_TLS_TERMINATED_UPSTREAM=true: requests a local proxy forwards " +
        "would count as local. Give the scraper an admin key instead (`npm run keys:issue`)",
    );
  }
  if ((settings.tlsCertPath === "") !== (settings.tlsKeyPath === "")) {
    problems.push("LEDGER_TLS_CERT and LEDGER_TLS_KEY must be set together");
  }
  return problems;
}

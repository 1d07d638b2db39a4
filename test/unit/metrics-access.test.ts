/**
 * Who may read GET /metrics: the settings and their validation, and the rule applied to a
 * request's peer address and headers (remote peers cannot be made on a loopback-only test
 * machine, so the rule is tested as the function the endpoint calls).
 */
import { expect } from "chai";
import { ConfigError, readConfig } from "../../src/config.js";
import { ApiKeyring, generateApiKey, keyFileLine, parseApiKeys } from "../../src/rpc/api-keys.js";
import { authorizeMetrics } from "../../src/rpc/metrics-endpoint.js";
import { isLoopbackHost } from "../../src/secure-defaults.js";

describe("metrics settings", () => {
  it("default to metrics on and closed to anyone without an admin key", () => {
    expect(readConfig({})).to.include({ metrics: "on", metricsOpen: "none" });
    expect(readConfig({ LEDGER_METRICS: "off", LEDGER_METRICS_OPEN: "loopback" })).to.include({
      metrics: "off",
      metricsOpen: "loopback",
    });
  });

  it("refuse values they do not know", () => {
    expect(() => readConfig({ LEDGER_METRICS: "yes" })).to.throw(
      ConfigError,
      'LEDGER_METRICS must be one of on, off, got "yes"',
    );
    expect(() => readConfig({ LEDGER_METRICS_OPEN: "all" })).to.throw(
      ConfigError,
      'LEDGER_METRICS_OPEN must be one of none, loopback, got "all"',
    );
  });

  it("refuse loopback-open metrics behind a proxy that terminates TLS, which would make every request local", () => {
    const env = {
      LEDGER_METRICS_OPEN: "loopback",
      LEDGER_TLS_TERMINATED_UPSTREAM: "true",
      LEDGER_API_KEYS: keyFileLine("ops", ["admin"], generateApiKey()),
    };
    expect(() => readConfig(env)).to.throw(
      ConfigError,
      "LEDGER_METRICS_OPEN=loopback cannot be combined with LEDGER_TLS_TERMINATED_UPSTREAM=true",
    );
    expect(readConfig({ ...env, LEDGER_METRICS_OPEN: "none" }).tlsTerminatedUpstream).to.equal(true);
  });
});

describe("authorizeMetrics", () => {
  const admin = generateApiKey();
  const reader = generateApiKey();
  const keyring = new ApiKeyring(
    parseApiKeys(`${keyFileLine("ops", ["admin"], admin)}\n${keyFileLine("app", ["read"], reader)}`, "test").keys,
  );
  const closed = { keyring, open: "none" as const };
  const loopbackOpen = { keyring, open: "loopback" as const };

  it("lets anyone in when authentication is off (the service is then loopback-only, or behind an authenticating proxy)", () => {
    expect(authorizeMetrics({ keyring: null, open: "none" }, "127.0.0.1", {})).to.equal(null);
  });

  it("asks for an admin key by default, even from loopback", () => {
    expect(authorizeMetrics(closed, "127.0.0.1", {})?.status).to.equal(401);
    expect(authorizeMetrics(closed, "127.0.0.1", { authorization: `Bearer ${generateApiKey()}` })?.status).to.equal(
      401,
    );
    expect(authorizeMetrics(closed, "127.0.0.1", { authorization: `Bearer ${reader}` })?.status).to.equal(403);
    expect(authorizeMetrics(closed, "127.0.0.1", { authorization: `Bearer ${admin}` })).to.equal(null);
  });

  it("with loopback open, lets in local peers in every spelling and no one else", () => {
    for (const local of ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "::FFFF:127.1.2.3"]) {
      expect(authorizeMetrics(loopbackOpen, local, {}), local).to.equal(null);
    }
    for (const remote of ["10.0.0.5", "192.168.1.20", "::ffff:10.0.0.5", "2001:db8::1", "::ffff:7f00:1", undefined]) {
      expect(authorizeMetrics(loopbackOpen, remote, {})?.status, String(remote)).to.equal(401);
      expect(authorizeMetrics(loopbackOpen, remote, { authorization: `Bearer ${admin}` }), String(remote)).to.equal(
        null,
      );
    }
  });

  it("with loopback open, still asks a forwarded request for the key", () => {
    expect(authorizeMetrics(loopbackOpen, "127.0.0.1", { "x-forwarded-for": "203.0.113.7" })?.status).to.equal(401);
    expect(authorizeMetrics(loopbackOpen, "127.0.0.1", { forwarded: "for=203.0.113.7" })?.status).to.equal(401);
  });

  it("reads IPv4-mapped loopback addresses as loopback, and only those", () => {
    expect(isLoopbackHost("::ffff:127.0.0.9")).to.equal(true);
    expect(isLoopbackHost("::ffff:128.0.0.1")).to.equal(false);
    expect(isLoopbackHost("[::1]")).to.equal(true);
  });
});

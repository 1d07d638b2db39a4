/**
 * Configuration: defaults that work on a laptop, and clear messages for every bad value.
 */
import { expect } from "chai";
import { ConfigError, describeDatabase, readConfig, storeOptions } from "../../src/config.js";

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    readConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return expect.fail("expected a ConfigError");
}

describe("readConfig", () => {
  it("has working defaults", () => {
    const config = readConfig({});
    expect(config).to.include({
      host: "127.0.0.1",
      port: 50051,
      dbPath: "./data/ledger.db",
      defaultCurrency: "USD",
      durability: "full",
      http1Unary: "lean",
    });
  });

  it("has hold defaults (7 days, at most 30, no over-capture) and refuses bad LEDGER_HOLD_* values", () => {
    expect(readConfig({}).holds).to.deep.equal({
      ttlDefaultMs: 604_800_000,
      ttlMaxMs: 2_592_000_000,
      overcaptureBps: 0n,
      sweepIntervalMs: 60_000,
      sweepBatchMax: 500,
    });
    expect(readConfig({ LEDGER_HOLD_OVERCAPTURE_BPS: "1500" }).holds.overcaptureBps).to.equal(1500n);
    expect(problemsOf({ LEDGER_HOLD_OVERCAPTURE_BPS: "10001" })).to.contain("LEDGER_HOLD_OVERCAPTURE_BPS");
    expect(problemsOf({ LEDGER_HOLD_TTL_DEFAULT_SECONDS: "0" })).to.contain("LEDGER_HOLD_TTL_DEFAULT_SECONDS");
    expect(problemsOf({ LEDGER_HOLD_TTL_DEFAULT_SECONDS: "600", LEDGER_HOLD_TTL_MAX_SECONDS: "60" })).to.contain(
      "LEDGER_HOLD_TTL_DEFAULT_SECONDS must not exceed LEDGER_HOLD_TTL_MAX_SECONDS",
    );
    expect(problemsOf({ LEDGER_HOLD_SWEEP_BATCH_MAX: "0" })).to.contain("LEDGER_HOLD_SWEEP_BATCH_MAX");
  });

  it("has a 30 s stream stall timeout by default and takes 100 ms to 1 hour", () => {
    expect(readConfig({}).streamStallTimeoutMs).to.equal(30_000);
    expect(readConfig({ LEDGER_STREAM_STALL_TIMEOUT_MS: "300" }).streamStallTimeoutMs).to.equal(300);
    expect(readConfig({ LEDGER_STREAM_STALL_TIMEOUT_MS: "3600000" }).streamStallTimeoutMs).to.equal(3_600_000);
    for (const bad of ["99", "3600001", "1.5", "soon", "-1"]) {
      expect(problemsOf({ LEDGER_STREAM_STALL_TIMEOUT_MS: bad })).to.contain("LEDGER_STREAM_STALL_TIMEOUT_MS");
    }
  });

  it("takes LEDGER_HTTP1_UNARY=connect and refuses anything but lean or connect", () => {
    expect(readConfig({ LEDGER_HTTP1_UNARY: "connect" }).http1Unary).to.equal("connect");
    expect(() => readConfig({ LEDGER_HTTP1_UNARY: "fast" })).to.throw(ConfigError, "LEDGER_HTTP1_UNARY");
  });

  it("names every bad variable in one error", () => {
    try {
      readConfig({
        LEDGER_PORT: "70000",
        LEDGER_DURABILITY: "fast",
        LEDGER_DEFAULT_CURRENCY: "usd",
        LEDGER_WRITE_BATCH_MAX: "1.5",
      });
      expect.fail("expected a ConfigError");
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of ["LEDGER_PORT", "LEDGER_DURABILITY", "LEDGER_DEFAULT_CURRENCY", "LEDGER_WRITE_BATCH_MAX"]) {
        expect(message).to.contain(name);
      }
    }
  });

  describe("choosing the store", () => {
    it("takes a file path as SQLite and a postgres:// or postgresql:// URL as PostgreSQL", () => {
      expect(storeOptions(readConfig({ LEDGER_DB: "/tmp/x/ledger.db" })).kind).to.equal("sqlite");
      // Before: such a URL became a SQLite directory named "postgres:".
      for (const url of [
        "postgres://u:p@127.0.0.1:5432/ledger",
        "postgresql://u:p@localhost/ledger",
        "POSTGRES://u@[::1]/l",
      ]) {
        const settings = storeOptions(readConfig({ LEDGER_DB: url }));
        expect(settings.kind, url).to.equal("postgres");
      }
    });

    it("has PostgreSQL defaults: pool 10, timeouts 5 s, no TLS on loopback, verify-full elsewhere", () => {
      const local = storeOptions(readConfig({ LEDGER_DB: "postgres://u:p@127.0.0.1/ledger" }));
      if (local.kind !== "postgres") throw new Error("not postgres");
      expect(local.postgres).to.include({
        poolMax: 10,
        statementTimeoutMs: 5000,
        connectTimeoutMs: 5000,
        ssl: "disable",
        sslCaFile: "",
      });
      const remote = storeOptions(readConfig({ LEDGER_DB: "postgres://u:p@db.internal/ledger" }));
      if (remote.kind !== "postgres") throw new Error("not postgres");
      expect(remote.postgres.ssl).to.equal("verify-full");
    });

    it("names bad PostgreSQL settings", () => {
      const message = problemsOf({
        LEDGER_DB: "postgres://u:p@db.internal/ledger?sslmode=disable",
        LEDGER_PG_POOL_MAX: "1",
        LEDGER_PG_STATEMENT_TIMEOUT_MS: "5s",
        LEDGER_PG_SSL: "prefer",
        LEDGER_PG_CONNECT_TIMEOUT_MS: "0",
      });
      for (const name of [
        "sslmode",
        "LEDGER_PG_POOL_MAX",
        "LEDGER_PG_STATEMENT_TIMEOUT_MS",
        "LEDGER_PG_SSL",
        "LEDGER_PG_CONNECT_TIMEOUT_MS",
      ]) {
        expect(message).to.contain(name);
      }
      expect(
        problemsOf({ LEDGER_DB: "postgres://u:p@h/l", LEDGER_PG_SSL: "require", LEDGER_PG_SSL_CA_FILE: "/ca.pem" }),
      ).to.contain("LEDGER_PG_SSL_CA_FILE is only used with LEDGER_PG_SSL=verify-full");
      expect(problemsOf({ LEDGER_DB: "postgres://u:p@host:notaport/l" })).to.contain(
        "LEDGER_DB is not a valid PostgreSQL URL",
      );
    });

    it("refuses LEDGER_WORKERS above 1 on SQLite, and out of range anywhere", () => {
      expect(readConfig({}).workers).to.equal(1);
      expect(problemsOf({ LEDGER_WORKERS: "2" })).to.contain("LEDGER_WORKERS above 1 needs PostgreSQL");
      expect(readConfig({ LEDGER_WORKERS: "4", LEDGER_DB: "postgres://u:p@127.0.0.1/l" }).workers).to.equal(4);
      expect(problemsOf({ LEDGER_WORKERS: "0", LEDGER_DB: "postgres://u:p@127.0.0.1/l" })).to.contain("LEDGER_WORKERS");
    });

    it("logs the database without its password", () => {
      expect(describeDatabase(readConfig({ LEDGER_DB: "postgres://ledger:s3cret@127.0.0.1/l" }))).to.equal(
        "postgres://ledger:***@127.0.0.1/l",
      );
      expect(describeDatabase(readConfig({ LEDGER_DB: "./data/x.db" }))).to.equal("./data/x.db");
    });
  });
});

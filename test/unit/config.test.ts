/**
 * Configuration: defaults that work on a laptop, and clear messages for every bad value.
 */
import { expect } from "chai";
import { ConfigError, readConfig } from "../../src/config.js";

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

  it("takes LEDGER_HTTP1_UNARY=connect and refuses anything but lean or connect", () => {
    expect(readConfig({ LEDGER_HTTP1_UNARY: "connect" }).http1Unary).to.equal("connect");
    expect(() => readConfig({ LEDGER_HTTP1_UNARY: "fast" })).to.throw(ConfigError, "LEDGER_HTTP1_UNARY");
  });

  it("names every bad variable in one error", () => {
    try {
      readConfig({ LEDGER_PORT: "70000", LEDGER_DURABILITY: "fast", LEDGER_DEFAULT_CURRENCY: "usd", LEDGER_WRITE_BATCH_MAX: "1.5" });
      expect.fail("expected a ConfigError");
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of ["LEDGER_PORT", "LEDGER_DURABILITY", "LEDGER_DEFAULT_CURRENCY", "LEDGER_WRITE_BATCH_MAX"]) {
        expect(message).to.contain(name);
      }
    }
  });
});

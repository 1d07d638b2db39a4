import { expect } from "chai";
import { ConfigError, readConfig } from "../../src/config.js";
import { parseExactJson } from "../../src/ingest/exact-json.js";
import { checkVendorRow, parseInstantMs } from "../../src/ingest/vendor-row.js";

/** The instant of a UTC calendar time, built without Date.UTC's mapping of years 0–99 to 19xx. */
function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

describe("vendor instants: exact parsing at the edges", () => {
  it("reads years 0000 to 0099 as themselves, not as 1900 to 1999", () => {
    expect(parseInstantMs("0099-06-01T00:00:00Z")).to.equal(utcMs(99, 6, 1));
    expect(parseInstantMs("0000-01-01T00:00:00Z")).to.equal(utcMs(0, 1, 1));
    expect(parseInstantMs("0001-12-31T23:59:59.999Z")).to.equal(utcMs(1, 12, 31, 23, 59, 59, 999));
    expect(parseInstantMs("9999-12-31T23:59:59Z")).to.equal(utcMs(9999, 12, 31, 23, 59, 59));
  });

  it("knows leap days, including year 0 and 2000 but not 1900", () => {
    expect(parseInstantMs("0000-02-29T00:00:00Z")).to.equal(utcMs(0, 2, 29));
    expect(parseInstantMs("2000-02-29T00:00:00Z")).to.equal(utcMs(2000, 2, 29));
    expect(parseInstantMs("1900-02-29T00:00:00Z")).to.equal(undefined);
  });

  it("accepts offsets up to ±14:00 and refuses larger or malformed ones", () => {
    expect(parseInstantMs("2023-03-16T12:00:00+14:00")).to.equal(utcMs(2023, 3, 15, 22));
    expect(parseInstantMs("2023-03-16T12:00:00-14:00")).to.equal(utcMs(2023, 3, 17, 2));
    expect(parseInstantMs("2023-03-16T12:00:00+05:45")).to.equal(utcMs(2023, 3, 16, 6, 15));
    for (const text of [
      "2023-03-16T12:00:00+99:99",
      "2023-03-16T12:00:00+14:01",
      "2023-03-16T12:00:00-15:00",
      "2023-03-16T12:00:00+05:60",
      "2023-03-16T24:00:00Z",
    ]) {
      expect(parseInstantMs(text), text).to.equal(undefined);
    }
  });

  it("quarantines a vendor row whose createdAt has an impossible offset", () => {
    const raw = '{"id":"t1","userId":"u1","type":"earned","amount":1.5,"createdAt":"2023-03-16T12:00:00+99:99"}';
    const checked = checkVendorRow(parseExactJson(raw), raw, 2);
    expect(checked.type).to.equal("bad");
    if (checked.type === "bad") expect(checked.record.reason).to.equal("bad_created_at");
  });

  it("refuses a bad LEDGER_VENDOR_START at start-up", () => {
    for (const start of ["2023-03-16T12:00:00+99:99", "2023-02-30T00:00:00Z"]) {
      expect(() => readConfig({ LEDGER_VENDOR_URL: "http://127.0.0.1:9", LEDGER_VENDOR_START: start }), start).to.throw(
        ConfigError,
        /LEDGER_VENDOR_START/,
      );
    }
    const config = readConfig({ LEDGER_VENDOR_URL: "http://127.0.0.1:9", LEDGER_VENDOR_START: "0099-06-01T00:00:00Z" });
    expect(config.vendor?.startMs).to.equal(utcMs(99, 6, 1));
  });
});

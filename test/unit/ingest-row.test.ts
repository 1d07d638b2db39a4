import { expect } from "chai";
import { checkVendorRow, entryKindOf, parseInstantMs } from "../../src/ingest/vendor-row.js";
import { parseExactJson } from "../../src/ingest/exact-json.js";
import { backoffMs, freshIntervalMs, newPass, pageSpanMs, planNext, stepClosingPass } from "../../src/ingest/plan.js";
import { parseRetryAfter, formatVendorDate, pageUrl, parsePage } from "../../src/ingest/vendor-client.js";
import { readVendorConfig } from "../../src/ingest/config.js";

const row = (json: string) => checkVendorRow(parseExactJson(json), json, 2);
const good = `{"id":"41bbdf81-735c-4aea-beb3-342jhj234nj234","userId":"074092","createdAt":"2023-03-15T12:33:11.000Z","type":"earned","amount":1.2}`;

describe("ingest unit: vendor row validation", () => {
  it("maps the four vendor types, with both spellings of paid out", () => {
    expect(entryKindOf("earned")).to.equal("vendor_earned");
    expect(entryKindOf("spent")).to.equal("vendor_spent");
    expect(entryKindOf("payout")).to.equal("vendor_payout");
    expect(entryKindOf("paid_out")).to.equal("vendor_paid_out");
    expect(entryKindOf("paid out")).to.equal("vendor_paid_out");
    expect(entryKindOf("Earned")).to.equal(undefined);
    expect(entryKindOf("refund")).to.equal(undefined);
  });

  it("turns a good row into a fact, keeping leading zeros and a non-UUID id", () => {
    const checked = row(good);
    if (checked.type !== "fact") throw new Error(`quarantined: ${JSON.stringify(checked)}`);
    expect(checked.fact).to.deep.equal({
      externalId: "41bbdf81-735c-4aea-beb3-342jhj234nj234",
      userId: "074092",
      kind: "vendor_earned",
      amountMinor: 120n,
      occurredAtMs: Date.UTC(2023, 2, 15, 12, 33, 11),
    });
    expect(checked.identity).to.equal("41bbdf81-735c-4aea-beb3-342jhj234nj234");
  });

  const cases: [string, string][] = [
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"refund","amount":1}`, "bad_type"],
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1.005}`, "amount_too_precise"],
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":"1.5"}`, "bad_amount"],
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned"}`, "missing_amount"],
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":0}`, "amount_not_positive"],
    [`{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1e30}`, "amount_out_of_range"],
    [`{"id":"a","userId":74092,"createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "bad_user_id"],
    [`{"id":"a","userId":"bad user","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "bad_user_id"],
    [`{"id":"a","userId":"","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "bad_user_id"],
    [`{"id":"a","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "missing_user_id"],
    [`{"userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "missing_id"],
    [`{"id":7,"userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1}`, "bad_id"],
    [`{"id":"a","userId":"1","createdAt":"2023-02-30T12:33:11Z","type":"earned","amount":1}`, "bad_created_at"],
    [`{"id":"a","userId":"1","createdAt":"yesterday","type":"earned","amount":1}`, "bad_created_at"],
    [`{"id":"a","userId":"1","type":"earned","amount":1}`, "missing_created_at"],
    [
      `{"id":"a","userId":"1","createdAt":"2023-03-15T12:33:11Z","type":"earned","amount":1,"amount":2}`,
      "duplicate_field",
    ],
    [`[1,2]`, "not_an_object"],
  ];
  for (const [json, reason] of cases) {
    it(`quarantines ${reason}: ${json.slice(0, 70)}`, () => {
      const checked = row(json);
      if (checked.type !== "bad") throw new Error("accepted a bad row");
      expect(checked.record.reason).to.equal(reason);
      expect(checked.record.raw).to.equal(json);
      expect(checked.record.detail).to.not.equal("");
    });
  }

  it("identifies a row without an id by the hash of its text", () => {
    const checked = row(cases[10]![0]);
    expect(checked.identity).to.match(/^raw:[0-9a-f]{64}$/);
  });

  it("parses ISO 8601 instants with fractions and offsets", () => {
    expect(parseInstantMs("2023-03-16T12:33:11.000Z")).to.equal(Date.UTC(2023, 2, 16, 12, 33, 11));
    expect(parseInstantMs("2023-03-16T12:33:11.5Z")).to.equal(Date.UTC(2023, 2, 16, 12, 33, 11, 500));
    expect(parseInstantMs("2023-03-16T14:33:11+02:00")).to.equal(Date.UTC(2023, 2, 16, 12, 33, 11));
    expect(parseInstantMs("2023-03-16 12:33:11")).to.equal(undefined);
    expect(parseInstantMs("2023-13-01T00:00:00Z")).to.equal(undefined);
  });
});

describe("ingest unit: vendor client, plan and backoff", () => {
  it("formats and URL-encodes the vendor's query dates in UTC", () => {
    expect(formatVendorDate(Date.UTC(2023, 1, 1, 0, 1, 0))).to.equal("2023-02-01 00:01:00");
    const url = pageUrl({
      baseUrl: "http://v",
      startMs: Date.UTC(2023, 1, 1),
      endMs: Date.UTC(2023, 1, 1, 0, 1),
      page: 2,
      limit: 1000,
      timeoutMs: 1,
    });
    expect(url).to.equal(
      "http://v/transactions?startDate=2023-02-01%2000%3A00%3A00&endDate=2023-02-01%2000%3A01%3A00&page=2&limit=1000",
    );
  });

  it("classifies bodies without items or meta as bad responses", () => {
    expect(parsePage(`{"items":[]}`)).to.include({ ok: false, kind: "bad_response" });
    expect(parsePage(`{"items":[],"meta":{"totalItems":0,"totalPages":0}}`).ok).to.equal(true);
    expect(parsePage(`{"items":[{"a":1}`)).to.include({ ok: false, kind: "bad_response" });
  });

  it("reads Retry-After as seconds or as a date, and caps it", () => {
    expect(parseRetryAfter("7", 0)).to.equal(7000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).to.equal(6000);
    expect(parseRetryAfter("999999", 0)).to.equal(15 * 60_000);
    expect(parseRetryAfter("soon", 0)).to.equal(undefined);
    expect(parseRetryAfter(null, 0)).to.equal(undefined);
  });

  it("backs off exponentially with jitter, never below Retry-After", () => {
    expect(backoffMs(0, 1000, 60_000, () => 0)).to.equal(500);
    expect(backoffMs(3, 1000, 60_000, () => 0.999)).to.be.within(7990, 8000);
    expect(backoffMs(20, 1000, 60_000, () => 1)).to.equal(60_000);
    expect(backoffMs(0, 1000, 60_000, () => 0, 30_000)).to.equal(30_000);
  });

  it("closes a window only when the distinct rows reach a steady totalItems", () => {
    const cursor = { closedUntilMs: 0, pass: null, newestCreatedAtMs: null };
    const pass = newPass(0, 60_000, 0);
    const meta = { page: 2, itemCount: 10, totalItems: 20, totalPages: 2 };
    expect(stepClosingPass(cursor, { ...pass, nextPage: 2, totalItems: 20 }, meta, 20)).to.include({
      type: "closed",
      verified: true,
    });
    const again = stepClosingPass(cursor, { ...pass, nextPage: 2, totalItems: 20 }, meta, 19);
    expect(again.type).to.equal("again");
    expect(again.cursor.pass).to.include({ nextPage: 1, totalItems: 20, attempts: 1 });
    const moved = stepClosingPass(cursor, { ...pass, nextPage: 2, totalItems: 19 }, meta, 20);
    expect(moved.type).to.equal("again");
    expect(moved.cursor.pass).to.include({ totalItems: null });
    expect(stepClosingPass(cursor, { ...pass, nextPage: 2, totalItems: 20, attempts: 2 }, meta, 19)).to.include({
      type: "closed",
      verified: false,
    });
    expect(stepClosingPass(cursor, pass, { ...meta, page: 1 }, 10).type).to.equal("next");
  });

  const settings = {
    latenessMs: 60_000,
    windowMs: 60_000,
    backfillWindowMs: 3_600_000,
    pollIntervalMs: 15_000,
    pageSize: 1000,
    requestsPerWindow: 5,
    budgetWindowMs: 60_000,
  };
  const perMinute = (rows: number) => rows / 60_000;

  it("aims a following closing pass at whole pages of rows, measured from the vendor's rate", () => {
    // 4,000 a minute: one page (950 rows at the fill target) gathers in 14 seconds.
    expect(pageSpanMs(perMinute(4000), settings)).to.equal(14_000);
    expect(pageSpanMs(null, settings)).to.equal(60_000);
    expect(pageSpanMs(0, settings)).to.equal(60_000);
    expect(pageSpanMs(perMinute(1_000_000), settings)).to.equal(1000);
    const cursor = { closedUntilMs: 0, pass: null, newestCreatedAtMs: null };
    const fresh = { freshFromMs: -Infinity, lastFreshAtMs: -Infinity, rowsPerMs: perMinute(4000) };
    // 30 s closable: two whole spans (28 s), not the 30 s that would spill 100 rows onto a third request.
    const plan = planNext(cursor, fresh, 90_000, settings, "follow");
    expect(plan).to.deep.include({ type: "closing", isNew: true });
    expect(plan.type === "closing" && plan.pass.endMs).to.equal(28_000);
    // Less than one span closable: nothing to close yet, and no fresh read is affordable.
    const idle = planNext({ ...cursor, closedUntilMs: 28_000 }, fresh, 100_000, settings, "follow");
    expect(idle).to.deep.equal({ type: "idle", untilMs: 102_000 });
  });

  it("reads fresh only as often as the budget affords beside closing every row once", () => {
    expect(freshIntervalMs(null, settings)).to.equal(15_000);
    // Four fresh reads a minute and closing fit in 10 requests a minute, not in 5 (two are kept in reserve).
    expect(freshIntervalMs(perMinute(1000), { ...settings, requestsPerWindow: 10 })).to.equal(15_000);
    expect(freshIntervalMs(perMinute(100), settings)).to.equal(30_000);
    // 1,000 a minute: 1.05 for closing + 2 fresh > 3 affordable; one fresh read a page span (57 s) fits.
    expect(freshIntervalMs(perMinute(1000), settings)).to.equal(57_000);
    // 1,050 a minute: a 60 s read would take two pages (2 a minute, too many); one page span (54 s) fits.
    expect(freshIntervalMs(perMinute(1050), settings)).to.equal(54_000);
    // 2,500 and 4,000 a minute: no fresh read fits; rows are read once, by closing.
    expect(freshIntervalMs(perMinute(2500), settings)).to.equal(Infinity);
    expect(freshIntervalMs(perMinute(4000), settings)).to.equal(Infinity);
  });

  it("plans closing passes after the lateness bound and fresh reads in between", () => {
    const cursor = { closedUntilMs: 0, pass: null, newestCreatedAtMs: null };
    const fresh = { freshFromMs: -Infinity, lastFreshAtMs: -Infinity, rowsPerMs: null };
    expect(planNext(cursor, fresh, 7_200_000, settings, "follow")).to.deep.include({ type: "closing", isNew: true });
    const backfill = planNext(cursor, fresh, 7_200_000, settings, "follow");
    expect(backfill.type === "closing" && backfill.pass.endMs).to.equal(3_600_000);
    expect(planNext(cursor, fresh, 90_000, settings, "follow")).to.deep.equal({
      type: "fresh",
      startMs: 0,
      endMs: 90_000,
    });
    const idle = planNext(cursor, { ...fresh, freshFromMs: 90_000, lastFreshAtMs: 90_000 }, 95_000, settings, "follow");
    expect(idle).to.deep.equal({ type: "idle", untilMs: 105_000 });
    expect(planNext(cursor, fresh, 90_000, settings, "catch-up")).to.deep.include({ type: "closing" });
    expect(
      planNext(
        { ...cursor, closedUntilMs: 30_000 },
        { ...fresh, freshFromMs: 90_000, lastFreshAtMs: 0 },
        90_500,
        settings,
        "catch-up",
      ),
    ).to.deep.equal({ type: "done" });
  });

  it("validates settings and names the variable", () => {
    expect(readVendorConfig({})).to.equal(undefined);
    const config = readVendorConfig({ LEDGER_VENDOR_URL: "http://v/" });
    expect(config).to.include({
      baseUrl: "http://v",
      requestsPerWindow: 5,
      pageSize: 1000,
      currency: "EUR",
      minorDigits: 2,
      latenessMs: 60_000,
    });
    expect(() => readVendorConfig({ LEDGER_VENDOR_URL: "http://v", LEDGER_VENDOR_PAGE_SIZE: "5000" })).to.throw(
      /LEDGER_VENDOR_PAGE_SIZE/,
    );
    expect(() => readVendorConfig({ LEDGER_VENDOR_URL: "http://v", LEDGER_VENDOR_CURRENCY: "EUX" })).to.throw(
      /LEDGER_VENDOR_CURRENCY/,
    );
    expect(() => readVendorConfig({ LEDGER_VENDOR_URL: "http://v", LEDGER_VENDOR_START: "2023-02-01" })).to.throw(
      /LEDGER_VENDOR_START/,
    );
    expect(() => readVendorConfig({ LEDGER_VENDOR_URL: "ftp://v" })).to.throw(/LEDGER_VENDOR_URL/);
  });
});

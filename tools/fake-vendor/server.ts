/**
 * The fake vendor: a real HTTP server (node:http) that serves `GET /transactions` as the
 * vendor's contract describes, enforces a sliding-window rate limit with 429, injects faults,
 * and reports what a correct consumer must end up with (`GET /_fake/totals`) and how it was
 * treated (`GET /_fake/stats`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { expectedTotals, FakeData, randomFor, type FakeDataOptions } from "./generator.js";

export interface FakeFaults {
  /** Share of requests answered 500 or 503. */
  readonly serverErrorRate: number;
  /** Share of requests answered 429 although within the limit, half with Retry-After. */
  readonly spurious429Rate: number;
  /** Share of requests answered only after `slowMs`. */
  readonly slowRate: number;
  readonly slowMs: number;
  /** Share of requests whose connection is destroyed without an answer. */
  readonly dropRate: number;
  /** Share of requests whose 200 body is cut in half. */
  readonly truncateRate: number;
  /** Share of pages after the first served one row early: a row already seen, and one row skipped. */
  readonly shiftRate: number;
}

export const NO_FAULTS: FakeFaults = {
  serverErrorRate: 0,
  spurious429Rate: 0,
  slowRate: 0,
  slowMs: 0,
  dropRate: 0,
  truncateRate: 0,
  shiftRate: 0,
};

export interface FakeVendorOptions {
  readonly data: FakeDataOptions;
  readonly faults: FakeFaults;
  /** Most requests per `rateWindowMs`; 0 lifts the limit. */
  readonly requestsPerWindow: number;
  readonly rateWindowMs: number;
  readonly pageSizeMax: number;
  readonly host: string;
  readonly port: number;
}

export interface FakeStats {
  requests: number;
  served: number;
  rateLimited: number;
  maxRequestsInWindow: number;
  faults: Record<string, number>;
}

export interface FakeVendor {
  readonly url: string;
  readonly data: FakeData;
  stats(): FakeStats;
  /**
   * Moves the vendor's clock forward by `ms`: what it serves as visible, and its totals, are as
   * of that much later (rows hours late appear without the test waiting hours). Its rate limit
   * keeps real time.
   */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}

const VENDOR_DATE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function parseVendorDate(text: string | null): number | undefined {
  const match = text === null ? null : VENDOR_DATE.exec(text);
  if (match === null) return undefined;
  const [y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0] = match.slice(1).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

export async function startFakeVendor(options: FakeVendorOptions): Promise<FakeVendor> {
  const data = new FakeData(options.data);
  const stats: FakeStats = { requests: 0, served: 0, rateLimited: 0, maxRequestsInWindow: 0, faults: {} };
  const arrivals: number[] = [];
  const accepted: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let clockOffsetMs = 0;
  const vendorNow = () => Date.now() + clockOffsetMs;
  const fault = (name: string) => {
    stats.faults[name] = (stats.faults[name] ?? 0) + 1;
  };

  const send = (response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    response.writeHead(status, { "content-type": "application/json", ...headers });
    response.end(body);
  };

  const transactions = (request: IncomingMessage, response: ServerResponse, url: URL) => {
    const nowMs = Date.now();
    stats.requests += 1;
    const random = randomFor(options.data.seed, stats.requests, 2);
    arrivals.push(nowMs);
    while ((arrivals[0] ?? nowMs) <= nowMs - options.rateWindowMs) arrivals.shift();
    stats.maxRequestsInWindow = Math.max(stats.maxRequestsInWindow, arrivals.length);
    if (options.requestsPerWindow > 0) {
      while ((accepted[0] ?? nowMs) <= nowMs - options.rateWindowMs) accepted.shift();
      if (accepted.length >= options.requestsPerWindow) {
        stats.rateLimited += 1;
        const waitS = Math.ceil(((accepted[0] ?? nowMs) + options.rateWindowMs - nowMs) / 1000);
        send(
          response,
          429,
          `{"message":"rate limit exceeded"}`,
          stats.rateLimited % 2 === 0 ? {} : { "retry-after": String(waitS) },
        );
        return;
      }
      accepted.push(nowMs);
    }
    const { faults } = options;
    if (random() < faults.dropRate) {
      fault("drop");
      request.socket.destroy();
      return;
    }
    if (random() < faults.serverErrorRate) {
      fault("5xx");
      send(response, random() < 0.5 ? 500 : 503, `{"message":"oops"}`);
      return;
    }
    if (random() < faults.spurious429Rate) {
      fault("429");
      send(response, 429, `{"message":"slow down"}`, random() < 0.5 ? { "retry-after": "0" } : {});
      return;
    }
    const startMs = parseVendorDate(url.searchParams.get("startDate"));
    const endMs = parseVendorDate(url.searchParams.get("endDate"));
    const page = Number(url.searchParams.get("page") ?? "1");
    const limit = Number(url.searchParams.get("limit") ?? "1000");
    if (
      startMs === undefined ||
      endMs === undefined ||
      !Number.isSafeInteger(page) ||
      page < 1 ||
      !Number.isSafeInteger(limit) ||
      limit < 1 ||
      limit > options.pageSizeMax
    ) {
      send(response, 400, `{"message":"bad query"}`);
      return;
    }
    const rows = data.query(startMs, endMs, vendorNow());
    let offset = (page - 1) * limit;
    if (page > 1 && random() < faults.shiftRate) {
      fault("shift");
      offset -= 1;
    }
    const items = rows.slice(offset, offset + limit).map((row) => row.json);
    const meta = {
      totalItems: rows.length,
      itemCount: items.length,
      itemsPerPage: limit,
      totalPages: Math.ceil(rows.length / limit),
      currentPage: page,
    };
    let body = `{"items":[${items.join(",")}],"meta":${JSON.stringify(meta)}}`;
    if (random() < faults.truncateRate) {
      fault("truncate");
      body = body.slice(0, Math.floor(body.length / 2));
    }
    stats.served += 1;
    if (random() < faults.slowRate) {
      fault("slow");
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(response, 200, body);
      }, faults.slowMs);
      timers.add(timer);
      return;
    }
    send(response, 200, body);
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://fake");
    if (request.method === "GET" && url.pathname === "/transactions") return transactions(request, response, url);
    if (request.method === "GET" && url.pathname === "/_fake/stats") return send(response, 200, JSON.stringify(stats));
    if (request.method === "GET" && url.pathname === "/_fake/totals") {
      const nowMs = vendorNow();
      const totals = expectedTotals(data, options.data.endMs ?? nowMs, nowMs);
      const users = Object.fromEntries(
        [...totals.users].map(([user, t]) => [
          user,
          {
            earned: `${t.earned}`,
            spent: `${t.spent}`,
            payout: `${t.payout}`,
            paidOut: `${t.paidOut}`,
            balance: `${t.balance}`,
          },
        ]),
      );
      return send(response, 200, JSON.stringify({ validCount: totals.validCount, badRows: totals.badRows, users }));
    }
    return send(response, 404, `{"message":"not found"}`);
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    data,
    stats: () => structuredClone(stats),
    advanceClock: (ms) => {
      clockOffsetMs += ms;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
}

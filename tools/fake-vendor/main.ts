/**
 * `npm run vendor:fake -- [--port 8080] [--tx-per-minute 1000] ...`: the fake vendor on its own,
 * to run the service against. Every flag is listed by `--help`.
 */
import { parseArgs } from "node:util";
import { NO_FAULTS, startFakeVendor } from "./server.js";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8080" },
    seed: { type: "string", default: "1" },
    "tx-per-minute": { type: "string", default: "1000" },
    users: { type: "string", default: "500" },
    start: { type: "string", default: "" },
    end: { type: "string", default: "" },
    "requests-per-window": { type: "string", default: "5" },
    "rate-window-ms": { type: "string", default: "60000" },
    "bad-row-rate": { type: "string", default: "0.001" },
    "late-rate": { type: "string", default: "0.01" },
    "late-max-ms": { type: "string", default: "30000" },
    "very-late-rate": { type: "string", default: "0" },
    "very-late-min-ms": { type: "string", default: "3600000" },
    "very-late-max-ms": { type: "string", default: "86400000" },
    faults: { type: "string", default: "0" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`Fake vendor. Flags (defaults): --host 127.0.0.1 --port 8080 --seed 1 --tx-per-minute 1000 --users 500
  --start <ISO, default one hour ago> --end <ISO, default never> --requests-per-window 5 (0 lifts the limit)
  --rate-window-ms 60000 --bad-row-rate 0.001 --late-rate 0.01 --late-max-ms 30000
  --very-late-rate 0 --very-late-min-ms 3600000 --very-late-max-ms 86400000 (rows that appear hours
    after their createdAt, in ranges a consumer has already closed)
  --faults <share of requests to fail, spread over 5xx, 429, slow, dropped, truncated, shifted; default 0>`);
  process.exit(0);
}

const number = (name: keyof typeof values): number => {
  const value = Number(values[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
  return value;
};
const faultShare = number("faults") / 6;
const startMs = values.start === "" ? Date.now() - 3_600_000 : Date.parse(values.start ?? "");
const endMs = values.end === "" ? undefined : Date.parse(values.end ?? "");

const vendor = await startFakeVendor({
  data: {
    seed: number("seed"),
    txPerMinute: number("tx-per-minute"),
    users: number("users"),
    startMs,
    ...(endMs === undefined ? {} : { endMs }),
    badRowRate: number("bad-row-rate"),
    lateRate: number("late-rate"),
    lateMaxMs: number("late-max-ms"),
    veryLateRate: number("very-late-rate"),
    veryLateMinMs: number("very-late-min-ms"),
    veryLateMaxMs: number("very-late-max-ms"),
  },
  faults:
    faultShare === 0
      ? NO_FAULTS
      : {
          serverErrorRate: faultShare,
          spurious429Rate: faultShare,
          slowRate: faultShare,
          slowMs: 15_000,
          dropRate: faultShare,
          truncateRate: faultShare,
          shiftRate: faultShare,
        },
  requestsPerWindow: number("requests-per-window"),
  rateWindowMs: number("rate-window-ms"),
  pageSizeMax: 1000,
  host: values.host ?? "127.0.0.1",
  port: number("port"),
});
console.log(`fake vendor listening on ${vendor.url} (data from ${new Date(startMs).toISOString()})`);
const shutdown = () => {
  void vendor.close().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

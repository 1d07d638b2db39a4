/**
 * GET /metrics on a real server: parsed by a strict Prometheus text-format parser, the call counters
 * and latency histograms move as calls are made over native gRPC, Connect JSON (both HTTP/1.1
 * paths) and the REST routes, OK and error codes alike; the write-batch histograms move after
 * writes; the endpoint needs an admin key (401 and 403 otherwise) unless LEDGER_METRICS_OPEN
 * lets a local scraper in; and it is gone with LEDGER_METRICS=off.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { generateApiKey, keyFileLine } from "../../src/rpc/api-keys.js";
import { serveMetrics } from "../../src/rpc/metrics-endpoint.js";
import { startApp, type TestApp } from "../support/app.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { Scrape, scrape } from "../support/prometheus.js";

const keys = { writer: generateApiKey(), reader: generateApiKey(), operator: generateApiKey() };
const KEYS_ENV = {
  LEDGER_API_KEYS: [
    keyFileLine("writer", ["write", "read"], keys.writer),
    keyFileLine("reader", ["read"], keys.reader),
    keyFileLine("operator", ["admin"], keys.operator),
  ].join(";"),
};
const LOAD = "ledger.v1.LedgerService/Load";
const GET_BALANCE = "ledger.v1.LedgerService/GetBalance";
const CALLS = "ledger_rpc_calls_total";
const LATENCY = "ledger_rpc_duration_seconds";

function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

function metadata(key: string): grpc.Metadata {
  const result = new grpc.Metadata();
  result.set("authorization", `Bearer ${key}`);
  return result;
}

async function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<number> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

// Every engine: gRPC through grpc-js or connect-node, unary HTTP/1.1 through the lean path or connect-node.
const ENGINES = [
  { grpcServer: "http2", http1Unary: "lean" },
  { grpcServer: "grpc-js", http1Unary: "lean" },
  { grpcServer: "connect", http1Unary: "connect" },
];

for (const { grpcServer, http1Unary } of ENGINES)
  describe(`GET /metrics (real server, auth on, gRPC via ${grpcServer}, HTTP/1.1 unary via ${http1Unary})`, () => {
    let server: TestApp;
    let client: GrpcTestClient;
    const admin = bearer(keys.operator);

    before(async () => {
      server = await startApp({ ...KEYS_ENV, LEDGER_GRPC_SERVER: grpcServer, LEDGER_HTTP1_UNARY: http1Unary });
      client = new GrpcTestClient(server.address);
    });

    after(async () => {
      client.close();
      await server.stop();
    });

    it("parses as the Prometheus text format, with every family typed and the method labels from the descriptors only", async () => {
      // A caller-chosen user id must never become a label or a series.
      await client.unary(
        LedgerService.method.load,
        { userId: "user-not-a-label", amount: 3n },
        { metadata: metadata(keys.writer) },
      );
      const metrics = await scrape(server.baseUrl, admin);
      const types = {
        [CALLS]: "counter",
        [LATENCY]: "histogram",
        ledger_store_write_batch_size: "histogram",
        ledger_store_write_batch_duration_seconds: "histogram",
        ledger_store_commit_duration_seconds: "histogram",
        ledger_store_write_queue_depth: "gauge",
        ledger_rpc_calls_in_flight: "gauge",
        ledger_open_connections: "gauge",
        process_cpu_user_seconds_total: "counter",
        nodejs_eventloop_lag_seconds: "gauge",
      };
      for (const [name, type] of Object.entries(types)) expect(metrics.family(name).type, name).to.equal(type);
      // Every family says what it means.
      for (const family of metrics.families.values())
        expect(family.help, family.name).to.be.a("string").and.not.equal("");
      // Without a vendor there are no ingest figures to show (rather than zeros that look healthy).
      expect([...metrics.families.keys()].filter((name) => name.startsWith("ledger_ingest_"))).to.deep.equal([]);
      const known = new Set(
        [LedgerService, Health].flatMap((service) =>
          service.methods.map((method) => `${service.typeName}/${method.name}`),
        ),
      );
      known
        .add("grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        .add("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
      const methods = [...metrics.family(CALLS).samples, ...metrics.family(LATENCY).samples].map(
        (sample) => sample.labels.method,
      );
      expect(methods).to.not.be.empty;
      for (const method of methods) expect(known.has(method ?? ""), `method label ${method}`).to.equal(true);
      // Every method has its histogram from the start, so a dashboard shows it before its first call.
      expect(metrics.count(LATENCY, { method: "ledger.v1.LedgerService/AdjustBalance" })).to.equal(0);
      expect(
        metrics.sample(LATENCY, { method: "ledger.v1.LedgerService/AdjustBalance" }, `${LATENCY}_count`),
      ).to.not.equal(undefined);
      expect(metrics.text).to.not.include("user-not-a-label");
      // The scrape itself holds a connection open.
      expect(metrics.value("ledger_open_connections")).to.be.at.least(1);
    });

    it("counts gRPC calls by method and code, and their latency", async () => {
      const before = await scrape(server.baseUrl, admin);
      await client.unary(
        LedgerService.method.load,
        { userId: "grpc-ok", amount: 5n },
        { metadata: metadata(keys.writer) },
      );
      const invalid = await callError(
        client.unary(
          LedgerService.method.load,
          { userId: "grpc-bad", amount: 0n },
          { metadata: metadata(keys.writer) },
        ),
      );
      expect(invalid.code).to.equal(grpc.status.INVALID_ARGUMENT);
      const missing = await callError(
        client.unary(LedgerService.method.getBalance, { userId: "nobody" }, { metadata: metadata(keys.reader) }),
      );
      expect(missing.code).to.equal(grpc.status.NOT_FOUND);
      const refused = await callError(client.unary(LedgerService.method.load, { userId: "grpc-anon", amount: 5n }));
      expect(refused.code).to.equal(grpc.status.UNAUTHENTICATED);
      const denied = await callError(
        client.unary(
          LedgerService.method.load,
          { userId: "grpc-reader", amount: 5n },
          { metadata: metadata(keys.reader) },
        ),
      );
      expect(denied.code).to.equal(grpc.status.PERMISSION_DENIED);
      const after = await scrape(server.baseUrl, admin);
      const moved = (method: string, code: string) =>
        after.value(CALLS, { method, code }) - before.value(CALLS, { method, code });
      expect(moved(LOAD, "OK")).to.equal(1);
      expect(moved(LOAD, "INVALID_ARGUMENT")).to.equal(1);
      expect(moved(LOAD, "UNAUTHENTICATED")).to.equal(1);
      expect(moved(LOAD, "PERMISSION_DENIED")).to.equal(1);
      expect(moved(GET_BALANCE, "NOT_FOUND")).to.equal(1);
      expect(after.count(LATENCY, { method: LOAD }) - before.count(LATENCY, { method: LOAD })).to.equal(4);
      expect(after.count(LATENCY, { method: GET_BALANCE }) - before.count(LATENCY, { method: GET_BALANCE })).to.equal(
        1,
      );
      expect(after.sum(LATENCY, { method: LOAD })).to.be.above(before.sum(LATENCY, { method: LOAD }));
    });

    it("counts Connect JSON and REST calls the same way, OK and errors", async () => {
      const before = await scrape(server.baseUrl, admin);
      expect(
        await postJson(server.baseUrl, `/${LOAD}`, { userId: "json-ok", amount: "5" }, bearer(keys.writer)),
      ).to.equal(200);
      expect(
        await postJson(server.baseUrl, `/${LOAD}`, { userId: "json-bad", amount: "-5" }, bearer(keys.writer)),
      ).to.equal(400);
      expect(await postJson(server.baseUrl, `/${LOAD}`, { userId: "json-anon", amount: "5" }, {})).to.equal(401);
      expect(await postJson(server.baseUrl, "/v1/users/rest-ok:load", { amount: "5" }, bearer(keys.writer))).to.equal(
        200,
      );
      expect(
        await postJson(server.baseUrl, "/v1/users/rest-reader:load", { amount: "5" }, bearer(keys.reader)),
      ).to.equal(403);
      const after = await scrape(server.baseUrl, admin);
      const moved = (code: string) =>
        after.value(CALLS, { method: LOAD, code }) - before.value(CALLS, { method: LOAD, code });
      expect(moved("OK")).to.equal(2);
      expect(moved("INVALID_ARGUMENT")).to.equal(1);
      expect(moved("UNAUTHENTICATED")).to.equal(1);
      expect(moved("PERMISSION_DENIED")).to.equal(1);
      expect(after.count(LATENCY, { method: LOAD }) - before.count(LATENCY, { method: LOAD })).to.equal(5);
    });

    it("moves the write-batch size and commit histograms with every committed batch", async () => {
      const before = await scrape(server.baseUrl, admin);
      // Twenty concurrent writes share batches: more mutations than batches.
      await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          client.unary(
            LedgerService.method.load,
            { userId: `batch-${index}`, amount: 1n },
            { metadata: metadata(keys.writer) },
          ),
        ),
      );
      const after = await scrape(server.baseUrl, admin);
      const batches = after.count("ledger_store_write_batch_size") - before.count("ledger_store_write_batch_size");
      const mutations = after.sum("ledger_store_write_batch_size") - before.sum("ledger_store_write_batch_size");
      expect(mutations).to.equal(20);
      expect(batches).to.be.within(1, 20);
      expect(
        after.count("ledger_store_commit_duration_seconds") - before.count("ledger_store_commit_duration_seconds"),
      ).to.equal(batches);
      expect(
        after.count("ledger_store_write_batch_duration_seconds") -
          before.count("ledger_store_write_batch_duration_seconds"),
      ).to.equal(batches);
      const commitSeconds = after.sum("ledger_store_commit_duration_seconds");
      expect(commitSeconds).to.be.above(0);
      expect(after.sum("ledger_store_write_batch_duration_seconds")).to.be.at.least(commitSeconds);
    });

    it("answers 401 without a key and with an unknown one, 403 for a key without admin, and 405 for a POST", async () => {
      const get = (headers: Record<string, string>) => fetch(`${server.baseUrl}/metrics`, { headers });
      const anonymous = await get({});
      expect(anonymous.status).to.equal(401);
      expect(await anonymous.json()).to.deep.equal({
        error: "this method needs an API key, sent in the authorization header as Bearer <key>",
      });
      const unknown = await get(bearer(generateApiKey()));
      expect(unknown.status).to.equal(401);
      expect(await unknown.json()).to.deep.equal({ error: "the API key is not valid" });
      const reader = await get(bearer(keys.reader));
      expect(reader.status).to.equal(403);
      expect(((await reader.json()) as { error: string }).error).to.include('lacks the "admin" scope');
      // Loopback is not enough while LEDGER_METRICS_OPEN is left at none.
      const post = await fetch(`${server.baseUrl}/metrics`, { method: "POST", headers: admin });
      expect(post.status).to.equal(405);
      expect(post.headers.get("allow")).to.equal("GET, HEAD");
      await post.arrayBuffer();
      const head = await fetch(`${server.baseUrl}/metrics`, { method: "HEAD", headers: admin });
      expect(head.status).to.equal(200);
    });
  });

describe("GET /metrics with LEDGER_METRICS_OPEN=loopback (auth on)", () => {
  let server: TestApp;

  before(async () => {
    server = await startApp({ ...KEYS_ENV, LEDGER_METRICS_OPEN: "loopback" });
  });

  after(async () => {
    await server.stop();
  });

  it("lets a scraper on this machine in without a key", async () => {
    const metrics = await scrape(server.baseUrl);
    expect(metrics.families.has(CALLS)).to.equal(true);
  });

  it("still asks a forwarded request for the admin key: a local proxy is not a local scraper", async () => {
    for (const forwarded of [{ "x-forwarded-for": "203.0.113.7" }, { forwarded: "for=203.0.113.7" }]) {
      const response = await fetch(`${server.baseUrl}/metrics`, { headers: forwarded });
      expect(response.status, JSON.stringify(forwarded)).to.equal(401);
      await response.arrayBuffer();
      const withKey = await fetch(`${server.baseUrl}/metrics`, { headers: { ...forwarded, ...bearer(keys.operator) } });
      expect(withKey.status).to.equal(200);
      await withKey.arrayBuffer();
    }
  });

  it("opens nothing else: the health details still need the key", async () => {
    const details = await fetch(`${server.baseUrl}/healthz/details`);
    expect(details.status).to.equal(401);
    await details.arrayBuffer();
  });
});

describe("GET /metrics with LEDGER_METRICS=off", () => {
  it("is not served, and calls and writes still work", async () => {
    const server = await startApp({ LEDGER_METRICS: "off" });
    try {
      const response = await fetch(`${server.baseUrl}/metrics`);
      expect(response.status).to.equal(404);
      await response.arrayBuffer();
      expect(await postJson(server.baseUrl, `/${LOAD}`, { userId: "off", amount: "5" }, {})).to.equal(200);
    } finally {
      await server.stop();
    }
  });
});

describe("GET /metrics when collecting fails", () => {
  let server: Server;
  const logged: unknown[] = [];

  before(async () => {
    const source = {
      contentType: "text/plain",
      render: () => Promise.reject(new Error("SELECT secret FROM vendor_requests")),
    };
    server = createServer((request, response) => {
      void serveMetrics(
        { source, keyring: null, open: "none", onError: (error) => logged.push(error) },
        request,
        response,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("answers a bare 500 and logs the cause, never its text", async () => {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).to.equal(500);
    const body = await response.text();
    expect(body).to.not.include("SELECT");
    expect(JSON.parse(body)).to.deep.equal({ error: "the metrics could not be collected; see the service's log" });
    expect(logged).to.have.length(1);
  });
});

// The parser is strict enough to matter: a test that passes on anything proves nothing.
describe("the Prometheus text-format parser the tests use", () => {
  const histogram = (infCount: string) =>
    `# HELP h x\n# TYPE h histogram\nh_bucket{le="1",m="a"} 1\nh_bucket{le="+Inf",m="a"} ${infCount}\nh_sum{m="a"} 3\nh_count{m="a"} 2\n`;

  it("reads labelled histograms and escaped label values", () => {
    const parsed = new Scrape(`${histogram("2")}# TYPE c counter\nc{m="a\\"b\\nc"} 1\n`);
    expect(parsed.count("h", { m: "a" })).to.equal(2);
    expect(parsed.sum("h", { m: "a" })).to.equal(3);
    expect(parsed.value("c", { m: 'a"b\nc' })).to.equal(1);
  });

  it("rejects malformed lines, split families, duplicated series and inconsistent histograms", () => {
    const bad = [
      '# TYPE x counter\nx{method="a" 1\n',
      "# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\nx 2\n",
      "# TYPE x gauge\nx 1\nx 1\n",
      "# TYPE x counter\nx -1\n",
      "# TYPE x gauge\nx one\n",
      "x 1\n# TYPE x gauge\n",
      histogram("5"),
      "# TYPE x gauge\nx 1",
    ];
    for (const text of bad) expect(() => new Scrape(text), text).to.throw();
  });
});

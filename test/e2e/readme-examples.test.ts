/**
 * The README's examples, run as written against a real server (with every seed-compatible
 * profile on): every curl line runs with bash, in order, and every grpcurl line's method and
 * JSON body are sent as the same call (grpcurl itself is a Go program we cannot install here;
 * reflection, which it relies on, is tested separately).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { startApp, type TestApp } from "../support/app.js";
import { Scrape, scrape } from "../support/prometheus.js";
import { STORE_KINDS } from "../support/stores.js";

const run = promisify(execFile);
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const exampleLines = (tool: string) =>
  readme.split("\n").filter((line) => line.startsWith(`${tool} `) && line.includes("localhost:50051"));

for (const store of STORE_KINDS)
  describe(`README examples, on ${store}`, () => {
    let server: TestApp;

    before(async () => {
      server = await startApp({ LEDGER_COMPAT: "card,wallet,rewards" }, store);
    });

    after(async () => {
      await server.stop();
    });

    it("has curl and grpcurl examples for every RPC", () => {
      // Every method of the service, from its descriptor: a new RPC without examples fails here.
      for (const rpc of LedgerService.methods.map((method) => method.name)) {
        expect(
          exampleLines("curl").some((line) => line.includes(`/${rpc}`)),
          `curl ${rpc}`,
        ).to.equal(true);
        expect(
          exampleLines("grpcurl").some((line) => line.includes(`/${rpc}`)),
          `grpcurl ${rpc}`,
        ).to.equal(true);
      }
    });

    it("runs every curl example and gets JSON back (Prometheus text from /metrics)", async () => {
      for (const line of exampleLines("curl")) {
        const command = line.replaceAll("localhost:50051", server.address);
        if (line.includes("application/connect+json")) {
          // Connect streaming: enveloped frames, each JSON; the last one ends the stream without an error.
          const { stdout: bytes } = await run("bash", ["-c", command], { encoding: "buffer" });
          const frames = connectFrames(bytes);
          expect(frames.length, line).to.be.greaterThan(1);
          expect(frames.at(-1), line).to.deep.equal({});
          continue;
        }
        const { stdout } = await run("bash", ["-c", command]);
        if (/localhost:50051\/metrics\b/.test(line)) {
          const metrics = new Scrape(stdout.endsWith("\n") ? stdout : `${stdout}\n`);
          expect(metrics.families.has("ledger_rpc_calls_total"), line).to.equal(true);
          continue;
        }
        expect(() => JSON.parse(stdout) as unknown, line).to.not.throw();
        expect(stdout, line).to.not.match(/"code":"(invalid_argument|internal|unknown|not_found)"/);
        expect(stdout, line).to.not.match(/"success":false/);
      }
    });

    it("documents every metric the service exposes", async () => {
      const metrics = await scrape(server.baseUrl);
      const names = [...metrics.families.keys()].filter((name) => name.startsWith("ledger_"));
      expect(names.length).to.be.greaterThan(5);
      for (const name of names) expect(readme, name).to.include(`| \`${name}\` |`);
    });

    it("documents every REST route and every seed profile with a table and curl examples", () => {
      for (const route of [
        ":load",
        ":authorize",
        ":adjustBalance",
        ":transfer",
        ":setAccountPolicy",
        ":capture",
        ":void",
        "/balances",
        "/v1/payouts",
        "/payouts",
        "/openapi.json",
        "/v1/batches",
      ]) {
        expect(
          exampleLines("curl").some((line) => line.includes(route)),
          route,
        ).to.equal(true);
      }
      const profiles = {
        card: ["/api/v1/load", "/api/v1/authorization", "/api/ping"],
        wallet: ["/api/users/"],
        rewards: ["/user/"],
      };
      for (const [profile, routes] of Object.entries(profiles)) {
        const start = readme.indexOf(`(\`LEDGER_COMPAT=${profile}\`)`);
        expect(start, profile).to.be.greaterThan(0);
        // The section runs to the next heading of any level.
        const end = /\n#{2,3} /.exec(readme.slice(start))?.index;
        const section = readme.slice(start, end === undefined ? undefined : start + end);
        expect(section, profile).to.match(/\| seed route \| RPC \| mapping \|/);
        for (const route of routes)
          expect(section.includes(`curl -s`) && section.includes(route), `${profile} ${route}`).to.equal(true);
      }
    });

    it("sends every grpcurl example's body to its method and gets an answer", async () => {
      // A body in double quotes names the last hold an example placed as $HOLD, as a shell would.
      let hold = "";
      for (const line of exampleLines("grpcurl")) {
        const method = /localhost:50051 (\S+\/\S+)/.exec(line)?.[1];
        if (method === undefined) continue; // list / describe: covered by the reflection tests.
        const quoted = /-d "((?:[^"\\]|\\.)*)"/.exec(line)?.[1]?.replaceAll('\\"', '"').replaceAll("$HOLD", hold);
        const body = quoted ?? /-d '([^']*)'/.exec(line)?.[1] ?? "{}";
        if (method.endsWith("/StreamEntries")) {
          // A stream that follows new entries ends here at a short deadline; either way Connect answers 200.
          const json = Buffer.from(body);
          const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), json]);
          envelope.writeUInt32BE(json.length, 1);
          const streamed = await fetch(`${server.baseUrl}/${method}`, {
            method: "POST",
            headers: { "content-type": "application/connect+json", "connect-timeout-ms": "500" },
            body: envelope,
          });
          expect(streamed.status, line).to.equal(200);
          expect(connectFrames(Buffer.from(await streamed.arrayBuffer())).length, line).to.be.greaterThan(0);
          continue;
        }
        const response = await fetch(`${server.baseUrl}/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        expect(response.status, line).to.equal(200);
        const answer = (await response.json()) as { holdId?: string };
        if (answer.holdId !== undefined && answer.holdId !== "0") hold = answer.holdId;
      }
    });
  });

/** The JSON of each frame of a Connect streaming response (5-byte envelope: flags, length). */
function connectFrames(bytes: Buffer): unknown[] {
  const frames: unknown[] = [];
  for (let offset = 0; offset + 5 <= bytes.length;) {
    const length = bytes.readUInt32BE(offset + 1);
    frames.push(JSON.parse(bytes.subarray(offset + 5, offset + 5 + length).toString("utf8")));
    offset += 5 + length;
  }
  return frames;
}

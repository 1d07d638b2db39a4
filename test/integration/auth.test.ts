/**
 * Authentication on a real server: API keys from the environment and from a file, scopes per
 * method over gRPC and over HTTP (Connect JSON), health, reflection and /healthz open without a
 * key, nothing written by a refused call, and no token in any log line.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import { pino } from "pino";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { AccountStatus, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { readConfig } from "../../src/config.js";
import { generateApiKey, keyFileLine } from "../../src/rpc/api-keys.js";
import { build, type App } from "../../src/server.js";
import { callError, GrpcTestClient, grpc } from "../support/grpc-client.js";

const { load, getBalance, getPayouts } = LedgerService.method;

const keys = {
  reader: generateApiKey(),
  writer: generateApiKey(),
  fileWriter: generateApiKey(),
  operator: generateApiKey(),
};

function bearer(key: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

// Both HTTP/2 gRPC servers (native grpc-js and connect-node) must apply the same rule.
for (const grpcServer of ["http2", "grpc-js", "connect"])
  describe(`authentication and scopes (real server, auth on, gRPC via ${grpcServer})`, () => {
    let dir: string;
    let app: App;
    let address: string;
    let baseUrl: string;
    let client: GrpcTestClient;
    const logLines: string[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "ledger-auth-"));
      const keysFile = join(dir, "keys.txt");
      writeFileSync(
        keysFile,
        `# issued by npm run keys:issue\n${keyFileLine("file-writer", ["write", "read"], keys.fileWriter)}\n`,
      );
      const config = readConfig({
        LEDGER_PORT: "0",
        LEDGER_GRPC_SERVER: grpcServer,
        LEDGER_DB: join(dir, "ledger.db"),
        LEDGER_API_KEYS_FILE: keysFile,
        LEDGER_API_KEYS: `${keyFileLine("reader", ["read"], keys.reader)};${keyFileLine("writer", ["write"], keys.writer)};${keyFileLine("operator", ["admin"], keys.operator)}`,
      });
      expect(config.auth).to.equal("on");
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      });
      app = await build(config, pino({ level: "debug" }, sink));
      const { port } = await app.listen();
      address = `127.0.0.1:${port}`;
      baseUrl = `http://${address}`;
      client = new GrpcTestClient(address);
    });

    after(async () => {
      client.close();
      await app.shutdown();
      rmSync(dir, { recursive: true, force: true });
    });

    it("answers UNAUTHENTICATED without a key and with an unknown key, and writes nothing", async () => {
      const missing = await callError(client.unary(load, { userId: "mallory", amount: 5n }));
      expect(missing.code).to.equal(grpc.status.UNAUTHENTICATED);
      expect(missing.reason).to.equal("UNAUTHENTICATED");
      expect(missing.details).to.include("authorization header as Bearer");
      const unknown = await callError(
        client.unary(load, { userId: "mallory", amount: 5n }, { metadata: bearer(generateApiKey()) }),
      );
      expect(unknown.code).to.equal(grpc.status.UNAUTHENTICATED);
      const balance = await callError(
        client.unary(getBalance, { userId: "mallory" }, { metadata: bearer(keys.reader) }),
      );
      expect(balance.code).to.equal(grpc.status.NOT_FOUND);
    });

    it("lets only an admin key set an account policy; a write key cannot", async () => {
      const request = { userId: "frozen-by-admin", overdraftLimit: 0n, status: AccountStatus.FROZEN };
      const denied = await callError(
        client.unary(LedgerService.method.setAccountPolicy, request, { metadata: bearer(keys.writer) }),
      );
      expect(denied.code).to.equal(grpc.status.PERMISSION_DENIED);
      expect(denied.metadata["scope"]).to.equal("admin");
      const set = await client.unary(LedgerService.method.setAccountPolicy, request, {
        metadata: bearer(keys.operator),
      });
      expect(set.status).to.equal(AccountStatus.FROZEN);
      const transferDenied = await callError(
        client.unary(
          LedgerService.method.transfer,
          { payerUserId: "a", payeeUserId: "b", amount: 1n },
          { metadata: bearer(keys.reader) },
        ),
      );
      expect(transferDenied.metadata["scope"]).to.equal("write");
    });

    it("answers PERMISSION_DENIED for a key without the method's scope, and writes nothing", async () => {
      const denied = await callError(
        client.unary(load, { userId: "mallory", amount: 5n }, { metadata: bearer(keys.reader) }),
      );
      expect(denied.code).to.equal(grpc.status.PERMISSION_DENIED);
      expect(denied.reason).to.equal("PERMISSION_DENIED");
      expect(denied.metadata).to.deep.equal({ scope: "write" });
      const readByWriter = await callError(client.unary(getPayouts, {}, { metadata: bearer(keys.writer) }));
      expect(readByWriter.code).to.equal(grpc.status.PERMISSION_DENIED);
      const balance = await callError(
        client.unary(getBalance, { userId: "mallory" }, { metadata: bearer(keys.reader) }),
      );
      expect(balance.code).to.equal(grpc.status.NOT_FOUND);
    });

    it("serves a call whose key has the scope, from the environment and from the keys file", async () => {
      const loaded = await client.unary(load, { userId: "alice", amount: 700n }, { metadata: bearer(keys.writer) });
      expect(loaded.balanceAfter).to.equal(700n);
      const again = await client.unary(load, { userId: "alice", amount: 300n }, { metadata: bearer(keys.fileWriter) });
      expect(again.balanceAfter).to.equal(1000n);
      const balance = await client.unary(getBalance, { userId: "alice" }, { metadata: bearer(keys.reader) });
      expect(balance.balances[0]?.balance).to.equal(1000n);
    });

    it("keeps health, reflection and GET /healthz open without a key", async () => {
      const health = await client.unary(Health.method.check, { service: "" });
      expect(health.status).to.equal(1);
      const answers = await client.bidi(ServerReflection.method.serverReflectionInfo, [
        { messageRequest: { case: "listServices", value: "" } },
      ]);
      expect(answers).to.have.length(1);
      const healthz = await fetch(`${baseUrl}/healthz`);
      expect(healthz.status).to.equal(200);
    });

    it("tells a stranger only whether it serves; the details need an admin key", async () => {
      const open = await fetch(`${baseUrl}/healthz`);
      expect(await open.json()).to.deep.equal({ status: "ok" });
      const details = (key: string | undefined) =>
        fetch(`${baseUrl}/healthz/details`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
      expect((await details(undefined)).status).to.equal(401);
      expect((await details("ldg_not-a-key")).status).to.equal(401);
      expect((await details(keys.reader)).status).to.equal(403);
      const admin = await details(keys.operator);
      expect(admin.status).to.equal(200);
      expect(await admin.json()).to.include.keys(
        "status",
        "uptimeSeconds",
        "database",
        "writeQueueDepth",
        "callsInFlight",
      );
    });

    it("applies the same rule over HTTP (Connect JSON): 401 without a key, 403 without the scope", async () => {
      const post = (key: string | undefined) =>
        fetch(`${baseUrl}/ledger.v1.LedgerService/Load`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
          },
          body: JSON.stringify({ userId: "bob", amount: "5" }),
        });
      const missing = await post(undefined);
      expect(missing.status).to.equal(401);
      expect(await missing.json()).to.include({ code: "unauthenticated" });
      const denied = await post(keys.reader);
      expect(denied.status).to.equal(403);
      expect(await denied.json()).to.include({ code: "permission_denied" });
      const ok = await post(keys.writer);
      expect(ok.status).to.equal(200);
    });

    it("never writes a token to the log, accepted or refused", async () => {
      const stranger = generateApiKey();
      await callError(client.unary(load, { userId: "bob", amount: 1n }, { metadata: bearer(stranger) }));
      const logged = logLines.join("");
      expect(logged).to.include("UNAUTHENTICATED").and.include("PERMISSION_DENIED");
      for (const token of [...Object.values(keys), stranger]) expect(logged).not.to.include(token);
      expect(logged).not.to.include("Bearer");
    });
  });

describe("authentication configuration", () => {
  it("defaults to loopback with auth off, and turns auth on when keys are configured", () => {
    const plain = readConfig({});
    expect(plain).to.include({ host: "127.0.0.1", auth: "off" });
    expect(readConfig({ LEDGER_API_KEYS: "x read sha256:" + "0".repeat(64) }).auth).to.equal("on");
  });

  it("refuses a non-loopback address with auth off, saying why, unless explicitly overridden", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10"]) {
      expect(() => readConfig({ LEDGER_HOST: host })).to.throw(/refusing to listen on .* with authentication off/);
    }
    expect(readConfig({ LEDGER_HOST: "0.0.0.0", LEDGER_ALLOW_INSECURE_PUBLIC: "true" }).host).to.equal("0.0.0.0");
    expect(
      readConfig({
        LEDGER_HOST: "0.0.0.0",
        LEDGER_API_KEYS: "x read sha256:" + "0".repeat(64),
        LEDGER_TLS_TERMINATED_UPSTREAM: "true",
      }).auth,
    ).to.equal("on");
    for (const host of ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
      expect(readConfig({ LEDGER_HOST: host }).host).to.equal(host);
  });

  it("npm start on 0.0.0.0 without keys exits with status 2 and says why, before opening anything", () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-auth-"));
    try {
      const env = {
        ...process.env,
        LEDGER_HOST: "0.0.0.0",
        LEDGER_PORT: "0",
        LEDGER_DB: join(dir, "ledger.db"),
        LEDGER_AUTH: "",
        LEDGER_API_KEYS: "",
        LEDGER_API_KEYS_FILE: "",
      };
      const run = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.status).to.equal(2);
      expect(run.stderr).to.include("refusing to listen on 0.0.0.0 with authentication off");
      expect(spawnSync("ls", [dir], { encoding: "utf8" }).stdout).to.equal("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses keys over cleartext on a non-loopback address unless TLS is terminated in front", () => {
    const keys = { LEDGER_API_KEYS: "x read sha256:" + "0".repeat(64) };
    for (const host of ["0.0.0.0", "::", "192.168.1.10"]) {
      expect(() => readConfig({ ...keys, LEDGER_HOST: host })).to.throw(/API keys would cross the network in clear/);
    }
    expect(
      readConfig({ ...keys, LEDGER_HOST: "0.0.0.0", LEDGER_TLS_TERMINATED_UPSTREAM: "true" }).tlsTerminatedUpstream,
    ).to.equal(true);
    expect(
      readConfig({ ...keys, LEDGER_HOST: "0.0.0.0", LEDGER_TLS_CERT: "/c.pem", LEDGER_TLS_KEY: "/k.pem" }).host,
    ).to.equal("0.0.0.0");
    expect(readConfig({ ...keys, LEDGER_HOST: "127.0.0.1" }).auth).to.equal("on");
    expect(() => readConfig({ ...keys, LEDGER_HOST: "0.0.0.0", LEDGER_TLS_TERMINATED_UPSTREAM: "yes" })).to.throw(
      /LEDGER_TLS_TERMINATED_UPSTREAM/,
    );
  });

  it("npm start on 0.0.0.0 with keys but no TLS exits with status 2 and says why", () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-auth-"));
    try {
      const env = {
        ...process.env,
        LEDGER_HOST: "0.0.0.0",
        LEDGER_PORT: "0",
        LEDGER_DB: join(dir, "ledger.db"),
        LEDGER_AUTH: "",
        LEDGER_API_KEYS: "x read sha256:" + "0".repeat(64),
        LEDGER_API_KEYS_FILE: "",
        LEDGER_TLS_CERT: "",
        LEDGER_TLS_KEY: "",
        LEDGER_TLS_TERMINATED_UPSTREAM: "",
      };
      const run = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.status, run.stderr).to.equal(2);
      expect(run.stderr).to.include("refusing to listen on 0.0.0.0 with authentication on but without TLS");
      expect(run.stderr).to.include("LEDGER_TLS_TERMINATED_UPSTREAM=true");
      expect(spawnSync("ls", [dir], { encoding: "utf8" }).stdout).to.equal("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses auth on without keys, half a TLS configuration, and bad values", () => {
    expect(() => readConfig({ LEDGER_AUTH: "on" })).to.throw(/LEDGER_AUTH=on needs keys/);
    expect(() => readConfig({ LEDGER_TLS_CERT: "/x.pem" })).to.throw(/must be set together/);
    expect(() => readConfig({ LEDGER_AUTH: "maybe" })).to.throw(/LEDGER_AUTH must be one of on, off/);
    expect(() => readConfig({ LEDGER_ALLOW_INSECURE_PUBLIC: "yes", LEDGER_HOST: "0.0.0.0" })).to.throw(
      /LEDGER_ALLOW_INSECURE_PUBLIC/,
    );
  });

  it("fails start-up on an unreadable or malformed keys file without printing keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-auth-"));
    try {
      const base = { LEDGER_PORT: "0", LEDGER_DB: join(dir, "ledger.db"), LEDGER_LOG_LEVEL: "silent" };
      const missing = readConfig({ ...base, LEDGER_API_KEYS_FILE: join(dir, "none.txt") });
      let error: unknown;
      await build(missing, pino({ level: "silent" })).catch((caught: unknown) => (error = caught));
      expect(String(error)).to.match(/LEDGER_API_KEYS_FILE .*none.txt cannot be read/);
      const secret = generateApiKey();
      writeFileSync(join(dir, "keys.txt"), `someone read,write ${secret}\n`);
      const malformed = readConfig({ ...base, LEDGER_API_KEYS_FILE: join(dir, "keys.txt") });
      error = undefined;
      await build(malformed, pino({ level: "silent" })).catch((caught: unknown) => (error = caught));
      expect(String(error))
        .to.match(/line 1: .*never written in clear/)
        .and.not.include(secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm run keys:issue prints a key once and a keys-file line that authenticates it", () => {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/keys-issue.ts", "--scopes", "read,write", "--name", "ci"],
      { encoding: "utf8" },
    );
    expect(run.status, run.stderr).to.equal(0);
    const key = /^ {2}(ldg_\S+)$/m.exec(run.stdout)?.[1];
    const line = /^ {2}(ci read,write sha256:[0-9a-f]{64})$/m.exec(run.stdout)?.[1];
    expect(key).to.be.a("string");
    expect(line).to.equal(keyFileLine("ci", ["read", "write"], key!));
    const refused = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/keys-issue.ts", "--scopes", "root", "--name", "ci"],
      { encoding: "utf8" },
    );
    expect(refused.status).to.equal(2);
    expect(refused.stderr).to.include("--scopes must list some of read, write, admin");
  });
});

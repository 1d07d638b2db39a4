/**
 * The authorization rule as a plain function, as every transport calls it: which methods are
 * public, which scope each method needs, and what a missing, unknown or under-scoped key gets.
 */
import { expect } from "chai";
import { ApiKeyring, generateApiKey, keyFileLine, parseApiKeys } from "../../src/rpc/api-keys.js";
import { checkCall, requiredScope } from "../../src/rpc/auth.js";

function keyringWith(entries: { name: string; scopes: ("read" | "write" | "admin")[] }[]) {
  const keys = entries.map((entry) => ({ ...entry, key: generateApiKey() }));
  const text = keys.map((key) => keyFileLine(key.name, key.scopes, key.key)).join("\n");
  const parsed = parseApiKeys(text, "test");
  expect(parsed.problems).to.deep.equal([]);
  return { keyring: new ApiKeyring(parsed.keys), keys: Object.fromEntries(keys.map((key) => [key.name, key.key])) };
}

describe("checkCall (auth rule shared by every transport)", () => {
  const { keyring, keys } = keyringWith([
    { name: "reader", scopes: ["read"] },
    { name: "writer", scopes: ["write"] },
    { name: "ops", scopes: ["admin"] },
  ]);

  it("maps every LedgerService method to its scope and keeps health and reflection public", () => {
    expect(requiredScope("/ledger.v1.LedgerService/GetBalance")).to.equal("read");
    expect(requiredScope("ledger.v1.LedgerService/GetPayouts")).to.equal("read");
    expect(requiredScope("ledger.v1.LedgerService/ListEntries")).to.equal("read");
    expect(requiredScope("ledger.v1.LedgerService/GetEntry")).to.equal("read");
    expect(requiredScope("ledger.v1.LedgerService/Load")).to.equal("write");
    expect(requiredScope("ledger.v1.LedgerService/Authorize")).to.equal("write");
    expect(requiredScope("ledger.v1.LedgerService/Transfer")).to.equal("write");
    expect(requiredScope("ledger.v1.LedgerService/SetAccountPolicy")).to.equal("admin");
    expect(requiredScope("ledger.v1.LedgerService/ApplyBatch")).to.equal("write");
    expect(requiredScope("ledger.v1.LedgerService/AdjustBalance")).to.equal("write");
    expect(requiredScope("/grpc.health.v1.Health/Check")).to.equal(null);
    expect(requiredScope("grpc.reflection.v1.ServerReflection/ServerReflectionInfo")).to.equal(null);
    expect(requiredScope("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")).to.equal(null);
  });

  it("closes methods it does not know behind the admin scope", () => {
    expect(requiredScope("ledger.v1.LedgerService/DeleteEverything")).to.equal("admin");
    expect(requiredScope("ledger.v1.Admin/Compact")).to.equal("admin");
    expect(checkCall(keyring, "ledger.v1.Admin/Compact", `Bearer ${keys.writer}`)).to.include({
      ok: false,
      code: "permission_denied",
    });
    expect(checkCall(keyring, "ledger.v1.Admin/Compact", `Bearer ${keys.ops}`)).to.include({
      ok: true,
      keyName: "ops",
    });
  });

  it("lets everything through when authentication is off", () => {
    expect(checkCall(null, "ledger.v1.LedgerService/Load", undefined)).to.deep.equal({ ok: true, keyName: null });
  });

  it("answers unauthenticated without a bearer token or with a malformed header", () => {
    for (const header of [undefined, null, "", "Bearer", "Bearer ", "Basic abc", keys.writer, `Token ${keys.writer}`]) {
      const decision = checkCall(keyring, "ledger.v1.LedgerService/Load", header);
      expect(decision, String(header)).to.include({ ok: false, code: "unauthenticated" });
    }
  });

  it("answers unauthenticated for an unknown key, and never echoes the token", () => {
    const wrong = generateApiKey();
    const decision = checkCall(keyring, "ledger.v1.LedgerService/Load", `Bearer ${wrong}`);
    expect(decision).to.include({ ok: false, code: "unauthenticated" });
    expect(JSON.stringify(decision)).not.to.include(wrong);
    // A key that differs from a real one in its last character is just as unknown.
    const near = keys.writer!.slice(0, -1) + (keys.writer!.endsWith("A") ? "B" : "A");
    expect(checkCall(keyring, "ledger.v1.LedgerService/Load", `Bearer ${near}`)).to.include({
      ok: false,
      code: "unauthenticated",
    });
  });

  it("answers permission_denied for a known key without the scope, naming the key's holder", () => {
    const decision = checkCall(keyring, "ledger.v1.LedgerService/Load", `Bearer ${keys.reader}`);
    expect(decision).to.include({ ok: false, code: "permission_denied", scope: "write" });
    expect(decision.ok ? "" : decision.message)
      .to.include('"reader"')
      .and.not.include(keys.reader);
    expect(checkCall(keyring, "ledger.v1.LedgerService/GetBalance", `Bearer ${keys.writer}`)).to.include({
      ok: false,
      code: "permission_denied",
    });
    // admin is its own scope: it does not imply write.
    expect(checkCall(keyring, "ledger.v1.LedgerService/Load", `Bearer ${keys.ops}`)).to.include({
      ok: false,
      code: "permission_denied",
    });
  });

  it("admits a key with the scope, whatever the case of the scheme", () => {
    expect(checkCall(keyring, "ledger.v1.LedgerService/GetBalance", `Bearer ${keys.reader}`)).to.deep.equal({
      ok: true,
      keyName: "reader",
    });
    expect(checkCall(keyring, "/ledger.v1.LedgerService/Load", `bearer ${keys.writer}`)).to.deep.equal({
      ok: true,
      keyName: "writer",
    });
  });

  it("needs no token for public methods even when auth is on", () => {
    expect(checkCall(keyring, "grpc.health.v1.Health/Check", undefined)).to.deep.equal({ ok: true, keyName: null });
  });
});

describe("parseApiKeys (keys file)", () => {
  it("refuses a key written in clear, unknown scopes, bad names and duplicates, naming each line", () => {
    const key = generateApiKey();
    const good = keyFileLine("good", ["read"], key);
    const text = [
      "# comment",
      good,
      `clear read ${key}`,
      keyFileLine("odd", ["read"], key).replace(" read ", " reed "),
      keyFileLine("bad!", ["read"], key),
      keyFileLine("good", ["write"], key),
      "",
    ].join("\n");
    const { keys, problems } = parseApiKeys(text, "keys.txt");
    expect(keys.map((record) => record.name)).to.deep.equal(["good"]);
    expect(problems).to.have.length(4);
    expect(problems[0]).to.match(/keys.txt line 3: .*never written in clear/);
    expect(problems[1]).to.match(/line 4: scopes/);
    expect(problems[2]).to.match(/line 5: the name/);
    expect(problems[3]).to.match(/line 6: the name good is used twice/);
    expect(problems.join("\n")).not.to.include(key);
  });

  it("accepts ; as a line separator for the environment form", () => {
    const line = (name: string) => keyFileLine(name, ["read", "write"], generateApiKey());
    const { keys, problems } = parseApiKeys(`${line("a")};${line("b")}`, "LEDGER_API_KEYS");
    expect(problems).to.deep.equal([]);
    expect(keys.map((record) => [record.name, [...record.scopes]])).to.deep.equal([
      ["a", ["read", "write"]],
      ["b", ["read", "write"]],
    ]);
  });

  it("finds the right record among many and stores no key in clear", () => {
    const { keyring, keys } = keyringWith(
      Array.from({ length: 20 }, (_, index) => ({ name: `k${index}`, scopes: ["read" as const] })),
    );
    expect(keyring.find(keys.k13!)?.name).to.equal("k13");
    expect(keyring.find(keys.k0!)?.name).to.equal("k0");
    expect(keyring.find("")).to.equal(undefined);
    expect(generateApiKey()).to.match(/^ldg_[A-Za-z0-9_-]{43}$/);
  });
});

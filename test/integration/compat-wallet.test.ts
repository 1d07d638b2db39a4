/**
 * The wallet seed's own scenario through its own route: 10,000 simultaneous
 * `PUT /api/users/:id/balance {"amount": -2}` on a balance of 10,000 must give exactly 5,000
 * successes and 5,000 insufficient-funds errors, a balance of 0, and a ledger that verifies.
 * The requests share a bounded pool of keep-alive connections, as a load tool's would, well
 * within LEDGER_CONNECTIONS_MAX.
 */
import { Agent, request } from "node:http";
import { expect } from "chai";
import { verifyLedger } from "../../src/domain/verify.js";
import { startApp, type TestApp } from "../support/app.js";
import { httpCall } from "../support/http-call.js";

const CALLS = 10_000;
const CONNECTIONS = 256;

function put(agent: Agent, port: number, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const call = request(
      { agent, host: "127.0.0.1", port, path, method: "PUT", headers: { "content-type": "application/json" } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        response.on("error", reject);
      },
    );
    call.on("error", reject);
    call.end(body);
  });
}

describe("wallet scenario through the wallet's own route (LEDGER_COMPAT=wallet)", () => {
  let server: TestApp;
  let agent: Agent;

  before(async () => {
    server = await startApp({ LEDGER_COMPAT: "wallet", LEDGER_CONNECTIONS_MAX: String(CONNECTIONS * 2) });
    agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  });

  after(async () => {
    agent.destroy();
    await server.stop();
  });

  it("gives exactly 5,000 successes and 5,000 insufficient-funds errors, balance 0, and verifies", async () => {
    const port = Number(new URL(server.baseUrl).port);
    const credit = await put(agent, port, "/api/users/wallet-user/balance", '{"amount": 10000}');
    expect(credit.text).to.equal('{"success":true,"data":{"id":"wallet-user","balance":10000}}');

    const answers = await Promise.all(
      Array.from({ length: CALLS }, () => put(agent, port, "/api/users/wallet-user/balance", '{"amount":-2}')),
    );
    const histogram: Record<string, number> = {};
    for (const { status, text } of answers) {
      const key = status === 200 ? "OK" : `${status} ${text}`;
      histogram[key] = (histogram[key] ?? 0) + 1;
    }
    expect(histogram).to.deep.equal({ OK: 5000, '400 {"success":false,"error":"Insufficient funds"}': 5000 });
    // Every success reports a distinct balance from 9,998 down to 0: no two debits saw the same one.
    const balances = new Set(answers.filter((answer) => answer.status === 200).map((answer) => answer.text));
    expect(balances.size).to.equal(5000);

    const read = await httpCall(server.baseUrl, "GET", "/api/users/wallet-user");
    expect(read.json).to.deep.equal({ success: true, data: { id: "wallet-user", balance: 0 } });
    const report = await server.app.store.withSnapshot(verifyLedger);
    expect(report.mismatches).to.deep.equal([]);
    expect(report.entriesChecked).to.equal(5001);
  });
});

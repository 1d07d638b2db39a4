/**
 * Run by `test/integration/gc-finalizers.test.ts` as `node --expose-gc --import tsx` this file:
 * the real service serves calls while many better-sqlite3 statements and iterators are dropped
 * unfinished and the garbage collector is made to finalise them. better-sqlite3 12 aborts the
 * whole process here on Node 24.19 and newer (its ObjectWrap destructors assert), which is why
 * the ledger moved to better-sqlite3 13. Prints one JSON line and exits 0 when it survived.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { startApp } from "./app.js";

const ROUNDS = 80;
const STATEMENTS_PER_ROUND = 2000;
const ITERATORS_PER_ROUND = 500;
const CALLS_PER_ROUND = 20;

type GcOptions = { type: "major" | "minor"; execution: "sync" | "async" };
const gc = (globalThis as { gc?: (options?: GcOptions) => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

const testApp = await startApp();
const post = (method: string, body: unknown) =>
  fetch(`${testApp.baseUrl}/ledger.v1.LedgerService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

// Second connections to the service's own file, as `npm run verify` beside it would open.
const databaseFile = join(testApp.dir, "ledger.db");
const statements = new Database(databaseFile, { readonly: true });
let served = 0;

/** Short-lived objects, enough to make V8 start collections of its own. */
function allocateGarbage(objects: number): number {
  const garbage: object[] = [];
  for (let index = 0; index < objects; index += 1) garbage.push({ index });
  return garbage.length;
}
for (let round = 0; round < ROUNDS; round += 1) {
  const calls = Array.from({ length: CALLS_PER_ROUND }, async (_, index) => {
    const response = await post("Load", { userId: `gc-${index % 4}`, amount: "1", currency: "USD" });
    if (response.status !== 200) throw new Error(`Load answered ${response.status}`);
    served += 1;
  });
  for (let index = 0; index < STATEMENTS_PER_ROUND; index += 1) {
    statements.prepare(`SELECT ${index} + ? AS value`).get(round);
  }
  // A connection a round, dropped unclosed: its finaliser runs with iterators still open.
  const reader = new Database(databaseFile, { readonly: true });
  for (let index = 0; index < ITERATORS_PER_ROUND; index += 1) {
    // Started and abandoned: the iterator is still open when the collector finalises it.
    reader.prepare("SELECT id FROM entries").iterate().next();
  }
  await Promise.all(calls);
  // The abort needs finalisers run by a collection that V8 starts on its own, outside any
  // JavaScript frame: an asynchronous major collection, and one forced by allocation.
  gc({ type: "major", execution: "async" });
  await new Promise((resolve) => setTimeout(resolve, 5));
  allocateGarbage(200_000);
  await new Promise((resolve) => setTimeout(resolve, 5));
}

const balance = (await (await post("GetBalance", { userId: "gc-0" })).json()) as { balances: { balance: string }[] };
statements.close();
await testApp.stop();
console.log(JSON.stringify({ node: process.version, served, balanceOfGc0: balance.balances[0]?.balance }));

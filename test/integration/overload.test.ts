/**
 * Overload: far more concurrent calls than the write queue admits (LEDGER_WRITE_QUEUE_MAX=8),
 * against the service in its own process so that its memory can be read apart from the
 * clients'. The service must shed the excess with RESOURCE_EXHAUSTED (or UNAVAILABLE), write
 * nothing for a shed call, keep its queue and memory bounded, and serve normally once the load
 * stops.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { ChildServer, freePort } from "../support/child-server.js";
import { GrpcCallError, GrpcTestClient, grpc } from "../support/grpc-client.js";
import { auditLedger, keyOf } from "../support/ledger-audit.js";

const { load } = LedgerService.method;
const WRITE_QUEUE_MAX = 8;
const CLIENTS = 4;
const CALLS_PER_WAVE = 4000;
const WAVES = 3;
/** Resident memory the service may add under this load: calls in flight, never a queue of them. */
const RSS_GROWTH_MAX_BYTES = 160 * 1024 * 1024;
/** How much more the service may hold after the last wave than after the first. */
const RSS_WAVE_DRIFT_MAX_BYTES = 64 * 1024 * 1024;
/**
 * The service's V8 heap is capped in this test. Without a cap, resident memory measures the
 * garbage collector's appetite rather than the service: Node 22 and 24 size the young generation
 * by the machine's memory and collect the old space lazily, so a service that holds nothing grows
 * by 200 MiB over these waves on a 24 GiB machine. With the cap, a queue that grew with the calls
 * made would end the service with an out-of-memory crash, which the test sees.
 */
const SERVICE_NODE_OPTIONS = "--max-old-space-size=192 --max-semi-space-size=8";

/** Resident and peak resident memory of a process, from /proc (Linux), in bytes. */
function memoryOf(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kib("VmRSS"), peakBytes: kib("VmHWM") };
}

const userOf = (key: string) => `user-${Number(key.split("-")[1]) % 16}`;

describe(`overload (LEDGER_WRITE_QUEUE_MAX=${WRITE_QUEUE_MAX}, service in a child process)`, function () {
  this.timeout(120_000);
  let dir: string;
  let server: ChildServer;
  let clients: GrpcTestClient[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-overload-"));
    server = new ChildServer(await freePort(), {
      LEDGER_DB: join(dir, "ledger.db"),
      LEDGER_WRITE_QUEUE_MAX: String(WRITE_QUEUE_MAX),
      LEDGER_WRITE_BATCH_MAX: "4",
      NODE_OPTIONS: SERVICE_NODE_OPTIONS,
    });
    await server.start();
    clients = Array.from(
      { length: CLIENTS },
      () => new GrpcTestClient(server.address, { "grpc.use_local_subchannel_pool": 1 }),
    );
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sheds the excess with RESOURCE_EXHAUSTED, stays bounded, writes nothing it shed, and recovers", async () => {
    const ok = new Set<string>();
    const shed = new Set<string>();
    const codes: Record<string, number> = {};
    const pid = server.pid!;
    await clients[0]!.unary(load, { userId: "warm-up", amount: 1n });
    const before = memoryOf(pid);
    let queueDepthSeen = 0;
    let probes = 0;
    const rssAfterWave: number[] = [];
    for (let wave = 0; wave < WAVES; wave += 1) {
      let waveDone = false;
      // The service's own view of its write queue, sampled while the wave runs.
      const probe = (async () => {
        while (!waveDone) {
          const response = await fetch(`http://${server.address}/healthz/details`);
          const { writeQueueDepth } = (await response.json()) as { writeQueueDepth: number };
          queueDepthSeen = Math.max(queueDepthSeen, writeQueueDepth);
          probes += 1;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await Promise.all(
        Array.from({ length: CALLS_PER_WAVE }, async (_, index) => {
          const key = `w${wave}-${index}`;
          try {
            await clients[index % CLIENTS]!.unary(load, { userId: userOf(key), amount: 1n, idempotencyKey: key });
            ok.add(key);
            codes.OK = (codes.OK ?? 0) + 1;
          } catch (error) {
            if (!(error instanceof GrpcCallError)) throw error;
            const code = grpc.status[error.code];
            codes[code] = (codes[code] ?? 0) + 1;
            expect(code, error.message).to.be.oneOf(["RESOURCE_EXHAUSTED", "UNAVAILABLE"]);
            if (code === "RESOURCE_EXHAUSTED") expect(error.reason).to.equal("OVERLOADED");
            shed.add(key);
          }
        }),
      );
      waveDone = true;
      await probe;
      rssAfterWave.push(memoryOf(pid).rssBytes);
    }
    const afterLoad = memoryOf(pid);
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(
      `      ${WAVES * CALLS_PER_WAVE} calls: ${JSON.stringify(codes)}; write queue at most ${queueDepthSeen} in ${probes} probes; ` +
        `service RSS ${mib(before.rssBytes)} MiB before, ${rssAfterWave.map(mib).join(", ")} MiB after each wave, peak ${mib(afterLoad.peakBytes)} MiB`,
    );
    expect(shed.size, "nothing was shed: the test did not overload the service").to.be.greaterThan(0);
    expect(ok.size).to.be.greaterThan(0);
    expect(queueDepthSeen).to.be.at.most(WRITE_QUEUE_MAX);
    expect(afterLoad.peakBytes - before.rssBytes).to.be.below(RSS_GROWTH_MAX_BYTES);
    // Bounded means memory follows the calls in flight, not the calls made: the third wave
    // must not leave the service holding more than the first did.
    expect(rssAfterWave[WAVES - 1]! - rssAfterWave[0]!).to.be.below(RSS_WAVE_DRIFT_MAX_BYTES);

    // A shed call wrote nothing; an accepted one is there once.
    const snapshot = await auditLedger(join(dir, "ledger.db"));
    expect(snapshot.report.mismatches).to.deep.equal([]);
    expect(snapshot.report.entriesChecked).to.equal(ok.size + 1);
    for (const key of shed) expect(snapshot.entriesByKey.has(keyOf(userOf(key), key)), key).to.equal(false);

    // Once the load stops, calls are served again, shed ones included (as new writes).
    const [firstShed = ""] = shed;
    const retried = await clients[0]!.unary(load, { userId: userOf(firstShed), amount: 1n, idempotencyKey: firstShed });
    expect(retried.replayed).to.equal(false);
    for (let index = 0; index < 50; index += 1) await clients[1]!.unary(load, { userId: "after", amount: 1n });
    const health = (await (await fetch(`http://${server.address}/healthz/details`)).json()) as {
      status: string;
      writeQueueDepth: number;
    };
    expect(health).to.include({ status: "ok", writeQueueDepth: 0 });
  });
});

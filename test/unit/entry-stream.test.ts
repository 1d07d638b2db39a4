/**
 * The stream's pure parts: request validation, and the shared horizon that wakes waiting
 * streams (with a probe written here, no database).
 */
import { expect } from "chai";
import { openEntryStream, parseStreamRequest } from "../../src/domain/entry-stream.js";
import { PolledEntryFeed } from "../../src/store/entry-feed.js";
import type { Entry, EntryScan, LedgerStore } from "../../src/store/store.js";

describe("StreamEntries request validation (unit)", () => {
  const valid = { userId: "", currency: "", afterId: undefined, maxEntries: 0n };

  it("accepts no filter and no cursor (all users, from now)", () => {
    const parsed = parseStreamRequest(valid);
    expect(parsed).to.deep.equal({ ok: true, value: { maxEntries: 0n } });
  });

  it("keeps the user, currency and cursor", () => {
    const parsed = parseStreamRequest({ userId: "ann", currency: "EUR", afterId: 0n, maxEntries: 5n });
    expect(parsed).to.deep.equal({ ok: true, value: { userId: "ann", currency: "EUR", afterId: 0n, maxEntries: 5n } });
  });

  it("names every bad field", () => {
    const parsed = parseStreamRequest({ userId: "a b", currency: "usd?", afterId: -1n, maxEntries: -1n });
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    expect(parsed.violations.map((violation) => violation.field).sort()).to.deep.equal([
      "after_entry_id",
      "currency",
      "max_entries",
      "user_id",
    ]);
  });
});

describe("PolledEntryFeed (unit)", () => {
  function feedWith(start: bigint) {
    const state = { horizon: start, probes: 0 };
    const feed = new PolledEntryFeed(
      {
        horizon: () => {
          state.probes += 1;
          return Promise.resolve(state.horizon);
        },
        latestId: () => Promise.resolve(state.horizon),
      },
      10_000,
    );
    return { feed, state };
  }

  it("answers at once when the horizon is already past the cursor", async () => {
    const { feed } = feedWith(7n);
    expect(await feed.currentHorizon()).to.equal(7n);
    expect(await feed.waitPast(3n, new AbortController().signal)).to.equal(7n);
  });

  it("wakes every waiter past whose cursor a nudge moves the horizon, and no other", async () => {
    const { feed, state } = feedWith(0n);
    const woken: string[] = [];
    const first = feed.waitPast(0n, new AbortController().signal).then((id) => woken.push(`first ${id}`));
    const second = feed.waitPast(5n, new AbortController().signal).then((id) => woken.push(`second ${id}`));
    state.horizon = 3n;
    feed.nudge();
    await first;
    expect(woken).to.deep.equal(["first 3"]);
    state.horizon = 9n;
    feed.nudge();
    await second;
    expect(woken).to.deep.equal(["first 3", "second 9"]);
    feed.close();
  });

  it("resolves a wait with the horizon as it stands when its signal aborts or the feed closes", async () => {
    const { feed } = feedWith(2n);
    await feed.currentHorizon();
    const controller = new AbortController();
    const aborted = feed.waitPast(2n, controller.signal);
    controller.abort();
    expect(await aborted).to.equal(2n);
    const closing = feed.waitPast(2n, new AbortController().signal);
    feed.close();
    expect(await closing).to.equal(2n);
  });

  it("keeps the horizon when a probe fails, and never moves it back", async () => {
    let fail = false;
    let value = 4n;
    const feed = new PolledEntryFeed(
      {
        horizon: () => (fail ? Promise.reject(new Error("down")) : Promise.resolve(value)),
        latestId: () => Promise.resolve(4n),
      },
      10_000,
    );
    expect(await feed.currentHorizon()).to.equal(4n);
    fail = true;
    feed.nudge();
    expect(feed.horizonId).to.equal(4n);
    fail = false;
    value = 1n;
    expect(await feed.currentHorizon()).to.equal(4n);
    feed.close();
  });
});

describe("EntryStream.waiting (unit)", () => {
  /** A store of entries 1..`state.newest` (only the id matters to the stream), its horizon the newest. */
  function storeWith(newest: bigint) {
    const state = { newest };
    const feed = new PolledEntryFeed(
      { horizon: () => Promise.resolve(state.newest), latestId: () => Promise.resolve(state.newest) },
      10_000,
    );
    const scanEntries = (scan: EntryScan): Promise<Entry[]> => {
      const entries: Entry[] = [];
      const through = scan.throughId ?? state.newest;
      for (let id = scan.afterId + 1n; id <= through && entries.length < scan.limit; id += 1n) {
        entries.push({ id } as Entry);
      }
      return Promise.resolve(entries);
    };
    return { store: { feed, scanEntries } as unknown as LedgerStore, state, feed };
  }

  it("sees entries recorded after a spent page while the transport holds the stream (no stream waits on the feed)", async () => {
    const { store, state, feed } = storeWith(3n);
    const controller = new AbortController();
    const stream = openEntryStream(store, { maxEntries: 0n }, 0n, controller.signal);
    for (const id of [1n, 2n, 3n]) {
      const step = await stream.steps.next();
      expect(step.value).to.deep.include({ type: "entry", entry: { id } });
    }
    // Suspended at the page's last entry, as when the transport stopped taking messages there.
    expect(await stream.waiting()).to.equal(false);
    state.newest = 5n;
    feed.nudge(); // a local commit: ignored, since no stream waits on the feed
    expect(feed.horizonId).to.equal(3n);
    expect(await stream.waiting()).to.equal(true);
    controller.abort();
    await stream.steps.return(undefined);
    feed.close();
  });

  it("is true while the page read still holds entries not handed out", async () => {
    const { store, feed } = storeWith(3n);
    const controller = new AbortController();
    const stream = openEntryStream(store, { maxEntries: 0n }, 0n, controller.signal);
    await stream.steps.next();
    expect(await stream.waiting()).to.equal(true);
    controller.abort();
    await stream.steps.return(undefined);
    feed.close();
  });
});

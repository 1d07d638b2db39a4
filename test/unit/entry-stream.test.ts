/**
 * The stream's pure parts: request validation, and the shared horizon that wakes waiting
 * streams (with a probe written here, no database).
 */
import { expect } from "chai";
import { parseStreamRequest } from "../../src/domain/entry-stream.js";
import { PolledEntryFeed } from "../../src/store/entry-feed.js";

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

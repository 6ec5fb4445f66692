import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { DecodedEvent } from "../../src/bus/event-decoder.js";
import { loadConfig } from "../../src/config/config.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { FeedContinuity } from "../../src/resume/feed-continuity.js";
import type { ReadResult } from "../../src/resume/stream-reader.js";
import { feedsOf } from "../../src/scope/scope.js";

const feed = feedsOf({ role: "app", tenantId: "t", appId: "a" })[0]!;

function ev(seq: number | undefined, subject = "sms.t.a.status"): DecodedEvent {
  const event = { type: "sms_status", eventId: `e${seq}`, messageId: "m", appId: "a", tenantId: "t", status: "s", timestamp: "x", ...(seq === undefined ? {} : { seq }) } as DecodedEvent["event"];
  return { event, frame: JSON.stringify(event), subject, tenantId: "t", appToken: "a" };
}

function setup(stored: number[], last = Math.max(0, ...stored)) {
  const delivered: (number | undefined)[] = [];
  const reads: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const reader = {
    async read(_filters: readonly string[], after: number): Promise<ReadResult> {
      reads.push(after);
      await gate;
      return { type: "events", events: stored.filter((s) => s > after).map((s) => ev(s)) };
    },
    lastSequence: async () => last,
  };
  const metrics = createMetrics({ defaultMetrics: false });
  const c = new FeedContinuity(reader, (_f, d) => delivered.push(d.event.seq), loadConfig({}), metrics, pino({ level: "silent" }));
  return { c, delivered, reads, release, metrics };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("FeedContinuity", () => {
  it("passes events in order and direct-path events straight through", () => {
    const { c, delivered } = setup([]);
    c.accept(feed, ev(1), "0");
    c.accept(feed, ev(undefined), undefined);
    c.accept(feed, ev(3), "1");
    expect(delivered).toEqual([1, undefined, 3]);
  });

  it("repairs a gap told by Nats-Last-Sequence, holding newer events, dropping live copies", async () => {
    const { c, delivered, reads, release } = setup([1, 2, 3, 4, 5]);
    c.accept(feed, ev(1), "0");
    c.accept(feed, ev(4), "3"); // 2 and 3 missed: 4 waits behind the repair
    expect(delivered).toEqual([1]);
    release();
    await settle();
    expect(reads).toEqual([1]);
    expect(delivered).toEqual([1, 2, 3, 4, 5]); // 5 was already stored: the repair brought it
    c.accept(feed, ev(5), "4"); // its live copy, still in flight, is dropped
    c.accept(feed, ev(6), "5");
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("repairs every feed after a reconnect", async () => {
    const { c, delivered, release } = setup([1, 2, 3]);
    c.accept(feed, ev(1), "0");
    c.repairAll("reconnect");
    release();
    await settle();
    expect(delivered).toEqual([1, 2, 3]);
  });

  it("a rejected stored event is not a gap", () => {
    const { c, delivered, reads } = setup([]);
    c.accept(feed, ev(1), "0");
    c.skipped(feed, "sms.t.a.status", 2);
    c.accept(feed, ev(3), "2");
    expect(delivered).toEqual([1, 3]);
    expect(reads).toEqual([]);
  });

  it("a forged huge sequence does not make it drop the real events after it", async () => {
    const { c, delivered, reads, release } = setup([1, 2, 3, 4], 4);
    c.accept(feed, ev(1), "0");
    c.accept(feed, ev(1_000_000), "1"); // forged on the direct path
    c.accept(feed, ev(2), "1");
    c.accept(feed, ev(3), "2");
    expect(delivered).toEqual([1, 1_000_000, 2, 3]);
    // A repair reads from a credible mark, not from the forged one.
    c.repairAll("reconnect");
    release();
    await settle();
    expect(reads).toEqual([3]);
    expect(delivered).toEqual([1, 1_000_000, 2, 3, 4]);
  });
});

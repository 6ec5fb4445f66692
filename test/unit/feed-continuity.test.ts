import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { DecodedEvent } from "../../src/bus/event-decoder.js";
import type { FeedSink } from "../../src/bus/feed-sink.js";
import { loadConfig } from "../../src/config/config.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { FeedContinuity } from "../../src/resume/feed-continuity.js";
import type { ReadResult } from "../../src/resume/stream-reader.js";
import { feedsOf } from "../../src/scope/scope.js";

const feed = feedsOf({ role: "app", tenantId: "t", appId: "a" })[0]!;

function ev(seq: number | undefined, subject = "sms.t.a.status"): DecodedEvent {
  const event = { type: "sms_status", eventId: `e${seq}`, messageId: "m", appId: "a", tenantId: "t", status: "s", timestamp: "x", ...(seq === undefined ? {} : { seq }) } as DecodedEvent["event"];
  return { event, frame: JSON.stringify(event), subject, tenantId: "t", appToken: "a", sentAt: 0 };
}

function setup(
  stored: number[],
  last = Math.max(0, ...stored),
  options: { failures?: number; limit?: boolean; storedAtRead?: (read: number) => number[] } = {},
) {
  let failures = options.failures ?? 0;
  const delivered: (number | undefined)[] = [];
  const reads: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const reader = {
    async read(_filters: readonly string[], after: number): Promise<ReadResult> {
      reads.push(after);
      await gate;
      if (failures-- > 0) throw new Error("no JetStream leader");
      if (options.limit) return { type: "limit", pending: 99_999 };
      const visible = options.storedAtRead?.(reads.length - 1) ?? stored;
      const events = visible.filter((s) => s > after).map((s) => ev(s));
      return { type: "events", events, through: events.at(-1)?.event.seq ?? after };
    },
    lastSequence: async () => last,
  };
  const metrics = createMetrics({ defaultMetrics: false });
  const abandoned: string[] = [];
  const next: FeedSink = {
    event: (_f, d) => void delivered.push(d.event.seq),
    skipped: () => {},
    lost: (f) => void abandoned.push(f.topic),
    ended: () => {},
  };
  const c = new FeedContinuity(reader, next, loadConfig({}), metrics, pino({ level: "silent" }));
  return { c, delivered, reads, release, metrics, abandoned };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("FeedContinuity", () => {
  it("passes events in order and direct-path events straight through", () => {
    const { c, delivered } = setup([]);
    c.event(feed, ev(1), "0");
    c.event(feed, ev(undefined), undefined);
    c.event(feed, ev(3), "1");
    expect(delivered).toEqual([1, undefined, 3]);
  });

  it("repairs a gap told by Nats-Last-Sequence, holding newer events, dropping live copies", async () => {
    const { c, delivered, reads, release } = setup([1, 2, 3, 4, 5]);
    c.event(feed, ev(1), "0");
    c.event(feed, ev(4), "3"); // 2 and 3 missed: 4 waits behind the repair
    expect(delivered).toEqual([1]);
    release();
    await settle();
    expect(reads).toEqual([1]);
    expect(delivered).toEqual([1, 2, 3, 4, 5]); // 5 was already stored: the repair brought it
    c.event(feed, ev(5), "4"); // its live copy, still in flight, is dropped
    c.event(feed, ev(6), "5");
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("repairs every feed after a reconnect", async () => {
    const { c, delivered, release } = setup([1, 2, 3]);
    c.event(feed, ev(1), "0");
    c.repairAll("reconnect");
    release();
    await settle();
    expect(delivered).toEqual([1, 2, 3]);
  });

  it("a rejected stored event is not a gap", () => {
    const { c, delivered, reads } = setup([]);
    c.event(feed, ev(1), "0");
    c.skipped(feed, "sms.t.a.status", 2);
    c.event(feed, ev(3), "2");
    expect(delivered).toEqual([1, 3]);
    expect(reads).toEqual([]);
  });

  it("a forged huge sequence does not make it drop the real events after it", async () => {
    const { c, delivered, reads, release } = setup([1, 2, 3, 4], 4);
    c.event(feed, ev(1), "0");
    c.event(feed, ev(1_000_000), "1"); // forged on the direct path
    c.event(feed, ev(2), "1");
    c.event(feed, ev(3), "2");
    expect(delivered).toEqual([1, 1_000_000, 2, 3]);
    // A repair reads from a credible mark, not from the forged one.
    c.repairAll("reconnect");
    release();
    await settle();
    expect(reads).toEqual([3]);
    expect(delivered).toEqual([1, 1_000_000, 2, 3, 4]);
  });

  it("retries a repair that fails (leader election) while holding the feed", async () => {
    const { c, delivered, reads, release, abandoned } = setup([1, 2, 3], 3, { failures: 2 });
    c.event(feed, ev(1), "0");
    c.event(feed, ev(3), "2");
    release();
    await new Promise((r) => setTimeout(r, 600));
    expect(reads).toEqual([1, 1, 1]);
    expect(delivered).toEqual([1, 2, 3]);
    expect(abandoned).toEqual([]);
  });

  it("gives up on a gap too large to repair: the feed's sockets are closed so they resume", async () => {
    const { c, delivered, release, abandoned, metrics } = setup([1, 2, 3], 3, { limit: true });
    c.event(feed, ev(1), "0");
    c.event(feed, ev(3), "2");
    release();
    await settle();
    expect(abandoned).toEqual([feed.topic]);
    expect(delivered).toEqual([1, 3]);
    expect((await metrics.gapsUnrecoverable.get()).values[0]?.value).toBe(1);
  });

  it("a gap among the held events starts another repair", async () => {
    // The first read sees the stream up to 5; 6 is stored after it began and its live copy is
    // lost; 7 arrives live (last-seq 6) while the feed is held: releasing it reveals the gap.
    const { c, delivered, reads, release } = setup([1, 2, 3, 4, 5, 6, 7], 7, {
      storedAtRead: (read) => (read === 0 ? [1, 2, 3, 4, 5] : [1, 2, 3, 4, 5, 6, 7]),
    });
    c.event(feed, ev(1), "0");
    c.event(feed, ev(3), "2");
    c.event(feed, ev(7), "6");
    release();
    await settle();
    expect(reads).toEqual([1, 5]);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("a read that stops short of the sequence the gap revealed (leader catching up) is retried", async () => {
    const { c, delivered, reads, release, abandoned } = setup([1, 2, 3, 4], 4, {
      storedAtRead: (read) => (read === 0 ? [1] : [1, 2, 3, 4]),
    });
    c.event(feed, ev(1), "0");
    c.event(feed, ev(4), "3"); // the stream holds 3 on this subject
    release();
    await new Promise((r) => setTimeout(r, 300));
    expect(reads).toEqual([1, 1]);
    expect(delivered).toEqual([1, 2, 3, 4]);
    expect(abandoned).toEqual([]);
  });
});

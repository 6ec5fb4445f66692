/**
 * The filter compiler's one rule: an event the filter allows is published to exactly one of the
 * socket's topics, any other event to none. Random filters against random events (seeded).
 */
import { describe, expect, it } from "vitest";
import { ClientProtocolError } from "../../src/errors.js";
import type { SmsEvent } from "../../src/events/event.js";
import { filterAllows, intersectFilters, NO_FILTER, parseFilter, type EventFilter } from "../../src/scope/filter.js";
import { DERIVED_FAMILIES, derivedTopicsOf, filterTopics, pingTopic, type DerivedFamily, type FilterTopic } from "../../src/scope/filter-topics.js";
import { feedsOf } from "../../src/scope/scope.js";
import { SocketFilter, type FilterSubscriptions } from "../../src/scope/socket-filter.js";
import { DerivedTopics } from "../../src/server/derived-topics.js";
import { int, pick, seededRandom, type Rng } from "../helpers/random.js";

const STATUSES = ["queued", "sent", "delivered", "failed", "we|ird:s", "m:x"];
const IDS = ["m1", "m2", "m3", "m4", "m5"];
const FEED = "T1.A1";

function subset<T>(r: Rng, xs: readonly T[], allowEmpty: boolean): T[] {
  for (;;) {
    const out = xs.filter(() => r() < 0.4);
    if (out.length > 0 || allowEmpty) return out;
  }
}

function randomFilter(r: Rng): EventFilter {
  const raw: Record<string, unknown> = {};
  if (r() < 0.5) raw.types = pick(r, [["sms_status"], ["sms_inbound"], ["sms_status", "sms_inbound"]]);
  if (r() < 0.5) raw.statuses = subset(r, STATUSES, false);
  if (r() < 0.5) raw.messageIds = subset(r, IDS, true);
  const requested = parseFilter(raw);
  // A ceiling can leave empty sets behind (types or statuses), which parseFilter alone never gives.
  if (r() < 0.3) {
    const ceiling: Record<string, unknown> = {};
    if (r() < 0.5) ceiling.types = pick(r, [["sms_status"], ["sms_inbound"]]);
    if (r() < 0.5) ceiling.statuses = subset(r, STATUSES, false);
    if (r() < 0.5) ceiling.messageIds = subset(r, IDS, true);
    return intersectFilters(requested, parseFilter(ceiling));
  }
  return requested;
}

function randomEvent(r: Rng): SmsEvent {
  const messageId = pick(r, [...IDS, "m9"]);
  if (r() < 0.5) return { type: "sms_inbound", eventId: "e", messageId, from: "+1", to: "+2", body: "b", tenantId: "T1", timestamp: "t" };
  return { type: "sms_status", eventId: "e", messageId, appId: "A1", tenantId: "T1", status: pick(r, [...STATUSES, "other"]), timestamp: "t" };
}

function familiesOf(topics: readonly FilterTopic[]): Record<DerivedFamily, number> {
  const counts = Object.fromEntries(DERIVED_FAMILIES.map((f) => [f, 0])) as Record<DerivedFamily, number>;
  for (const t of topics) if (t.family !== undefined) counts[t.family]++;
  return counts;
}

/** How many of the socket's topics the event is published to. */
function hits(topics: readonly FilterTopic[], event: SmsEvent, inUse?: Record<DerivedFamily, number>): number {
  const published = [FEED, ...derivedTopicsOf(FEED, event, inUse)];
  const mine = new Set(topics.map((t) => t.topic));
  return published.filter((t) => mine.has(t)).length;
}

describe("filter topics", () => {
  it("random filters x random events: exactly one topic when allowed, none otherwise", () => {
    const r = seededRandom(Number(process.env.FILTER_SEED ?? 4242));
    for (let i = 0; i < 1500; i++) {
      const filter = randomFilter(r);
      const topics = filterTopics(FEED, filter);
      expect(new Set(topics.map((t) => t.topic)).size, "no topic twice").toBe(topics.length);
      const inUse = familiesOf(topics);
      for (let j = 0; j < 30; j++) {
        const event = randomEvent(r);
        const want = filterAllows(filter, event) ? 1 : 0;
        expect(hits(topics, event), `${JSON.stringify(filter, (_, v) => (v instanceof Set ? [...v] : v))} ${JSON.stringify(event)}`).toBe(want);
        // The publisher only builds the families in use on the feed: same answer.
        expect(hits(topics, event, inUse)).toBe(want);
      }
    }
  });

  it("compiles the spec's examples", () => {
    expect(filterTopics(FEED, NO_FILTER)).toEqual([{ topic: FEED, family: undefined }]);
    expect(filterTopics(FEED, parseFilter({ types: ["sms_status", "sms_inbound"] }))).toEqual([{ topic: FEED, family: undefined }]);
    expect(filterTopics(FEED, parseFilter({ types: ["sms_status"], statuses: ["failed", "undelivered"] })).map((t) => t.topic)).toEqual([
      "T1.A1|s:failed",
      "T1.A1|s:undelivered",
    ]);
    expect(filterTopics(FEED, parseFilter({ types: ["sms_inbound"] })).map((t) => t.topic)).toEqual(["T1.A1|t:sms_inbound"]);
    expect(filterTopics(FEED, parseFilter({ messageIds: ["m1", "m2"] })).map((t) => t.topic)).toEqual(["T1.A1|m:m1", "T1.A1|m:m2"]);
    expect(filterTopics(FEED, parseFilter({ messageIds: ["m1"], types: ["sms_status"] })).map((t) => t.topic)).toEqual(["T1.A1|m:m1|t:sms_status"]);
    expect(filterTopics(FEED, parseFilter({ messageIds: ["m1"], statuses: ["failed"] })).map((t) => t.topic)).toEqual([
      "T1.A1|m:m1|s:failed",
      "T1.A1|m:m1|t:sms_inbound",
    ]);
    expect(filterTopics(FEED, parseFilter({ messageIds: [] }))).toEqual([]);
    expect(pingTopic("T1._")).toBe("T1._|ping");
  });
});

/** A fake socket: the topics it is on, and the node's bookkeeping beside it. */
function fakeSocket(derived: DerivedTopics): FilterSubscriptions & { topics: Set<string> } {
  const topics = new Set<string>();
  return {
    topics,
    subscribe(feedTopic, t) {
      expect(topics.has(t.topic), `subscribed twice to ${t.topic}`).toBe(false);
      topics.add(t.topic);
      derived.add(feedTopic, t);
    },
    unsubscribe(feedTopic, t) {
      expect(topics.delete(t.topic), `not on ${t.topic}`).toBe(true);
      derived.remove(feedTopic, t);
    },
  };
}

describe("SocketFilter", () => {
  const feeds = feedsOf({ role: "app", tenantId: "T1", appId: "A1" });
  const limits = { maxMessageIds: 1000, maxTopics: 4096 };
  const expected = (f: EventFilter): string[] =>
    [...feeds.flatMap((feed) => filterTopics(feed.topic, f).map((t) => t.topic)), pingTopic("T1._")].sort();

  it("watch and unwatch keep the socket on exactly the topics of its current filter", () => {
    const r = seededRandom(77);
    const derived = new DerivedTopics();
    for (let i = 0; i < 200; i++) {
      const base = parseFilter({ messageIds: [], ...(r() < 0.5 ? { types: [pick(r, ["sms_status", "sms_inbound"])] } : {}), ...(r() < 0.3 ? { statuses: subset(r, STATUSES, false) } : {}) });
      const f = new SocketFilter(base, NO_FILTER, feeds, limits);
      const ws = fakeSocket(derived);
      const live = int(r, 0, 5);
      for (let step = 0; step < 8; step++) {
        if (step === live) f.goLive(ws);
        const ids = subset(r, IDS, true);
        const result = r() < 0.6 ? f.watch(ids, ws) : f.unwatch(ids, ws);
        expect(result.count).toBe(f.filter.messageIds?.size);
      }
      f.goLive(ws);
      expect([...ws.topics].sort()).toEqual(expected(f.filter));
      f.release({ subscribe: () => {}, unsubscribe: (feedTopic, t) => derived.remove(feedTopic, t) });
      expect(derived.size).toBe(0);
      expect(derived.families("T1.A1")).toBeUndefined();
    }
  });

  it("ids outside the token's ceiling or over the limit are not added and not counted", () => {
    const derived = new DerivedTopics();
    const ceiling = parseFilter({ messageIds: ["m1", "m2", "m3"] });
    const f = new SocketFilter(intersectFilters(parseFilter({ messageIds: ["m1"] }), ceiling), ceiling, feeds, { maxMessageIds: 2, maxTopics: 4096 });
    const ws = fakeSocket(derived);
    f.goLive(ws);
    expect(f.watch(["m9", "m2", "m3"], ws)).toEqual({ count: 2, ignored: 2 });
    expect([...(f.filter.messageIds ?? [])].sort()).toEqual(["m1", "m2"]);
    expect(derived.size).toBe(4); // 2 ids x 2 feeds
    expect(f.unwatch(["m1", "m7"], ws)).toEqual({ count: 1, ignored: 0 });
    expect(derived.size).toBe(2);
  });

  it("refuses a filter over the topic cap with 4400, saying why", () => {
    const f = parseFilter({ messageIds: IDS, statuses: STATUSES });
    expect(() => new SocketFilter(f, NO_FILTER, feeds, { maxMessageIds: 1000, maxTopics: 20 })).toThrow(ClientProtocolError);
    expect(() => new SocketFilter(f, NO_FILTER, feeds, { maxMessageIds: 1000, maxTopics: 20 })).toThrow(/needs 70 topics/);
    expect(() => new SocketFilter(f, NO_FILTER, feeds, { maxMessageIds: 3, maxTopics: 4096 })).toThrow(/at most 3 ids/);
  });
});

/** The developer console's logic, without a browser: store, rate, history paging, filters, URL fragment. */
import { describe, expect, it } from "vitest";
import type { SmsEvent, SmsInboundEvent, SmsStatusEvent } from "../../src/client/index.js";
import { EventStore } from "../../src/console/event-store.js";
import { makeFilter, splitList } from "../../src/console/filter.js";
import { defaultSocketUrl, parseFragment, sameOriginSocketUrl } from "../../src/console/fragment.js";
import type { HistoryPage } from "../../src/client/index.js";
import { loadEarlier } from "../../src/console/history.js";
import { RateMeter } from "../../src/console/rate-meter.js";
import { describeState } from "../../src/console/state-text.js";

const status = (seq: number, messageId: string, s: string, timestamp: string): SmsStatusEvent => ({
  type: "sms_status",
  eventId: `e${seq}`,
  messageId,
  appId: "a",
  tenantId: "t",
  status: s,
  timestamp,
  seq,
});
const inbound = (seq: number, from: string, body: string, timestamp: string): SmsInboundEvent => ({
  type: "sms_inbound",
  eventId: `e${seq}`,
  messageId: `in${seq}`,
  from,
  to: "+15550000000",
  body,
  tenantId: "t",
  timestamp,
  seq,
});

describe("EventStore", () => {
  it("keeps each event id once, whichever way it arrives", () => {
    const store = new EventStore();
    const a = status(1, "m", "queued", "2026-03-01T10:00:00.000Z");
    expect(store.addNewer([a]).added).toEqual([a]);
    expect(store.addNewer([a]).added).toEqual([]);
    expect(store.addOlder([a]).added).toEqual([]);
    expect(store.size).toBe(1);
  });

  it("builds a message's timeline in time order with the gaps between statuses", () => {
    const store = new EventStore();
    store.addNewer([status(2, "m", "sent", "2026-03-01T10:00:01.500Z"), status(3, "x", "sent", "2026-03-01T10:00:02.000Z")]);
    store.addOlder([status(1, "m", "queued", "2026-03-01T10:00:00.000Z")]);
    const steps = store.timeline("m");
    expect(steps.map((s) => (s.event as SmsStatusEvent).status)).toEqual(["queued", "sent"]);
    expect(steps.map((s) => s.sincePreviousMs)).toEqual([undefined, 1500]);
  });

  it("groups inbound messages by sending number, most recent conversation first", () => {
    const store = new EventStore();
    store.addNewer([
      inbound(1, "+1", "hi", "2026-03-01T10:00:00.000Z"),
      inbound(2, "+2", "yo", "2026-03-01T10:00:01.000Z"),
      inbound(3, "+1", "again", "2026-03-01T10:00:02.000Z"),
    ]);
    expect(store.conversations().map((c) => [c.number, c.count])).toEqual([["+1", 2], ["+2", 1]]);
    expect(store.conversation("+1").map((m) => m.body)).toEqual(["hi", "again"]);
  });

  it("stays within its bound: newer events push the oldest out, earlier ones stop at it", () => {
    const store = new EventStore(3);
    store.addNewer([1, 2, 3].map((i) => status(i, `m${i}`, "sent", `2026-03-01T10:00:0${i}.000Z`)));
    const { evicted } = store.addNewer([status(4, "m4", "sent", "2026-03-01T10:00:04.000Z")]);
    expect(evicted.map((e) => e.eventId)).toEqual(["e1"]);
    expect(store.has("e1")).toBe(false);
    expect(store.timeline("m1")).toEqual([]);
    expect(store.oldest()?.eventId).toBe("e2");
    expect(store.addOlder([status(0, "m0", "sent", "2026-03-01T09:00:00.000Z")]).added).toEqual([]);
    expect(store.room).toBe(0);
  });
});

describe("loadEarlier", () => {
  /** A stream of events of one scope at seqs 10, 20, ... 1000 behind a paging endpoint. */
  const seqs = Array.from({ length: 100 }, (_, i) => (i + 1) * 10);
  const calls: string[] = [];
  const pages = async (params: URLSearchParams): Promise<HistoryPage> => {
    calls.push(params.toString());
    const limit = Number(params.get("limit"));
    const after = params.get("after");
    const from = after === null ? seqs.length - limit : seqs.findIndex((s) => s > Number(after.split(":")[1]));
    const slice = (from < 0 ? [] : seqs.slice(Math.max(0, from), Math.max(0, from) + Math.min(limit, 7))).map((s) =>
      status(s, `m${s}`, "sent", "2026-03-01T10:00:00.000Z"),
    );
    const last = slice[slice.length - 1];
    return { epoch: "E", events: slice, next: last !== undefined && last.seq !== seqs[seqs.length - 1] ? `E:${last.seq}` : null };
  };

  it("asks for the newest events when nothing is shown yet", async () => {
    const events = await loadEarlier(pages, { epoch: undefined, beforeSeq: undefined, want: 5 });
    expect(events.map((e) => e.seq)).toEqual([960, 970, 980, 990, 1000]);
  });

  it("walks back from the oldest shown event in growing ranges and returns the newest `want` below it", async () => {
    calls.length = 0;
    const events = await loadEarlier(pages, { epoch: "E", beforeSeq: 900, want: 30 });
    expect(events.map((e) => e.seq)).toEqual(seqs.filter((s) => s < 900).slice(-30));
    expect(calls[0]).toContain("after=E%3A644");
  });

  it("stops at the start of the stream and within its page budget", async () => {
    expect((await loadEarlier(pages, { epoch: "E", beforeSeq: 35, want: 50 })).map((e) => e.seq)).toEqual([10, 20, 30]);
    calls.length = 0;
    await loadEarlier(pages, { epoch: "E", beforeSeq: 1000, want: 1000, maxPages: 3 });
    expect(calls.length).toBe(3);
  });
});

describe("filter, fragment and state text", () => {
  it("makes the server-side filter from the controls; nothing narrowing is no filter", () => {
    expect(makeFilter(["sms_status", "sms_inbound"], [], [])).toBeUndefined();
    expect(makeFilter(["sms_status"], ["failed"], splitList("m1, m2 ,,m1"))).toEqual({ types: ["sms_status"], statuses: ["failed"], messageIds: ["m1", "m2"] });
  });

  it("reads settings from the fragment and defaults the socket URL to this host", () => {
    expect(parseFragment("#token=abc.def&url=ws%3A%2F%2Fh%2Fws")).toEqual({ token: "abc.def", url: "ws://h/ws" });
    expect(parseFragment("#key=k")).toEqual({ key: "k" });
    expect(parseFragment("")).toEqual({});
    expect(defaultSocketUrl({ protocol: "https:", host: "sms.example.com" })).toBe("wss://sms.example.com/ws");
    expect(defaultSocketUrl({ protocol: "http:", host: "localhost:8080" })).toBe("ws://localhost:8080/ws");
  });

  it("takes a #url= only when it is this page's own origin", () => {
    const page = { protocol: "http:", host: "localhost:8080" };
    expect(sameOriginSocketUrl("ws://localhost:8080/ws", page)).toBe("ws://localhost:8080/ws");
    for (const foreign of ["ws://attacker.example/ws", "ws://localhost:8081/ws", "wss://localhost:8080/ws", "http://localhost:8080/ws", "ws://user:pw@localhost:8080/ws", "ws://localhost:8080.evil.example/ws", "//localhost:8080/ws", "not a url", ""]) {
      expect(sameOriginSocketUrl(foreign, page), foreign).toBeUndefined();
    }
    expect(sameOriginSocketUrl("wss://sms.example.com/ws", { protocol: "https:", host: "sms.example.com" })).toBe("wss://sms.example.com/ws");
    expect(sameOriginSocketUrl("ws://sms.example.com/ws", { protocol: "https:", host: "sms.example.com" })).toBeUndefined();
  });

  it("words states with their close codes", () => {
    expect(describeState({ state: "reconnecting", previous: "live", closeCode: 1006, attempt: 2, delayMs: 1500 })).toBe("reconnecting in 1.5 s, attempt 2 (close 1006)");
    expect(describeState({ state: "closed", previous: "authenticating", closeCode: 4401, closeReason: "" })).toBe("closed (close 4401)");
  });
});

describe("RateMeter", () => {
  it("counts events per second over a sliding window", () => {
    let now = 1_000_000;
    const meter = new RateMeter(5, () => now);
    meter.record(3);
    now += 1000;
    meter.record();
    meter.record();
    now += 1000;
    expect(meter.series()).toEqual([0, 0, 3, 2, 0]);
    expect(meter.lastSecond()).toBe(2);
    now += 10_000;
    expect(meter.series()).toEqual([0, 0, 0, 0, 0]);
  });
});

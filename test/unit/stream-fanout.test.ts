/** The SSE fan-out (src/server/stream-fanout.ts): queued per tenant, written in fair, bounded slices. */
import { describe, expect, it } from "vitest";
import { MAX_PENDING_PER_TENANT, SLICE_WRITES, StreamFanout, TURN_WRITES, type FanoutStream } from "../../src/server/stream-fanout.js";
import { NO_FILTER, parseFilter, type EventFilter } from "../../src/scope/filter.js";
import type { SmsEvent } from "../../src/events/event.js";

class FakeStream implements FanoutStream {
  readonly writes: string[] = [];
  liveFrom = 0;
  delivered = 0;
  corks = 0;
  constructor(readonly info: { filter: EventFilter } = { filter: NO_FILTER }) {}
  write(frame: Uint8Array): boolean {
    this.writes.push(Buffer.from(frame).toString());
    return true;
  }
  cork(fn: () => void): void {
    this.corks++;
    fn();
  }
}

const event = (id: string, status = "sent"): SmsEvent => ({ type: "sms_status", messageId: id, status }) as SmsEvent;
const frame = (s: string): Uint8Array => Buffer.from(s);

function fanout() {
  const delivered: [string, number][] = [];
  const overflows: [string, string[]][] = [];
  let pending: (() => void) | undefined;
  const f = new StreamFanout<FakeStream>({
    delivered: (t, n) => void delivered.push([t, n]),
    overflow: (t, topics) => void overflows.push([t, [...topics]]),
    defer: (run) => void (pending = run),
    now: () => 0,
  });
  const step = (): boolean => {
    const run = pending;
    pending = undefined;
    run?.();
    return run !== undefined;
  };
  return { f, delivered, overflows, step };
}

describe("StreamFanout", () => {
  it("writes nothing inline: the NATS callback only queues; a slice writes later", () => {
    const { f, step } = fanout();
    const s = new FakeStream();
    f.enqueue("A", "sms.A", new Set([s]), frame("e1"), event("m1"));
    expect(s.writes).toEqual([]);
    expect(f.pending).toBe(1);
    step();
    expect(s.writes).toEqual(["e1"]);
    expect(f.pending).toBe(0);
  });

  it("groups events of one topic queued together into one write per stream", () => {
    const { f, step, delivered } = fanout();
    const streams = new Set([new FakeStream(), new FakeStream()]);
    for (let i = 0; i < 5; i++) f.enqueue("A", "sms.A", streams, frame(`e${i};`), event(`m${i}`));
    step();
    for (const s of streams) expect(s.writes).toEqual(["e0;e1;e2;e3;e4;"]);
    expect(delivered).toEqual([["A", 10]]);
  });

  it("writes a filtered stream only the events its filter allows", () => {
    const { f, step } = fanout();
    const s = new FakeStream({ filter: parseFilter({ statuses: ["delivered"] }) });
    f.enqueue("A", "sms.A", new Set([s]), frame("sent;"), event("m1", "sent"));
    f.enqueue("A", "sms.A", new Set([s]), frame("delivered;"), event("m1", "delivered"));
    step();
    expect(s.writes).toEqual(["delivered;"]);
  });

  it("skips a stream for the events queued before it went live (its replay held them)", () => {
    const { f, step } = fanout();
    const early = new FakeStream();
    const set = new Set([early]);
    f.enqueue("A", "sms.A", set, frame("e1;"), event("m1"));
    // Goes live now: e1 (queued before) is not its, e2 (queued after) is.
    const late = new FakeStream();
    late.liveFrom = f.current;
    set.add(late);
    f.enqueue("A", "sms.A", set, frame("e2;"), event("m2"));
    step();
    expect(early.writes).toEqual(["e1;e2;"]);
    expect(late.writes).toEqual(["e2;"]);
  });

  it("one tenant's backlog delays another tenant's streams by one slice at most", () => {
    const { f, step } = fanout();
    const many = new Set(Array.from({ length: 10 * SLICE_WRITES }, () => new FakeStream()));
    f.enqueue("A", "sms.A", many, frame("a"), event("a1"));
    const b = new FakeStream();
    f.enqueue("B", "sms.B", new Set([b]), frame("b"), event("b1"));
    step();
    expect(b.writes).toEqual(["b"]);
    const writtenA = [...many].filter((s) => s.writes.length > 0).length;
    expect(writtenA).toBeGreaterThanOrEqual(TURN_WRITES);
    expect(writtenA).toBeLessThanOrEqual(SLICE_WRITES);
    let slices = 1;
    while (step()) slices++;
    expect([...many].every((s) => s.writes.length === 1)).toBe(true);
    expect(slices).toBeGreaterThanOrEqual(10);
  });

  it("bounds a tenant's backlog: past MAX_PENDING_PER_TENANT its topics' streams are ended", () => {
    const { f, overflows } = fanout();
    const set = new Set([new FakeStream()]);
    for (let i = 0; i <= MAX_PENDING_PER_TENANT; i++) f.enqueue("A", i % 2 === 0 ? "sms.A.x" : "sms.A.y", set, frame("e"), event(`m${i}`));
    expect(overflows).toEqual([["A", ["sms.A.x", "sms.A.y"]]]);
    expect(f.pending).toBe(0);
  });
});

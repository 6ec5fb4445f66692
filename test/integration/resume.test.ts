import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient, type Frame } from "../helpers/client.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { RESUME_MAX_EVENTS: "500" });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

const status = (tenantId: string, appId: string, messageId: string) =>
  publishEvent(producer.nc, { type: "sms_status", messageId, tenantId, appId, status: "sent" });

function afterAuth(c: TestClient): Frame[] {
  return c.frames.slice(1).filter((f) => f.type !== "ping");
}

describe("resume", () => {
  it("replays exactly the missed events of the socket's scope, in order, then resumed, then live", async () => {
    const key = await producer.key({ role: "app", tenantId: "Rt", appId: "Ra" });
    const first = await TestClient.authed(node.url, key);
    const epoch = first.frames[0]?.epoch as string;
    await status("Rt", "Ra", "before");
    await first.waitForEvents(1);
    const lastSeq = first.events()[0]?.seq as number;
    first.close();
    await first.waitClosed();

    // While away: in-scope (app + tenant-wide) and out-of-scope events.
    await status("Rt", "Ra", "missed-1");
    await status("Rt", "Other", "not-mine");
    await publishEvent(producer.nc, { type: "sms_inbound", messageId: "missed-2", tenantId: "Rt", from: "+1", to: "+2", body: "b" });
    await status("Xt", "Ra", "not-mine-either");
    await status("Rt", "Ra", "missed-3");

    const back = await TestClient.authed(node.url, key, { resume: { epoch, seq: lastSeq } });
    await back.waitFor((f) => f.type === "resumed");
    await status("Rt", "Ra", "live-1");
    await back.waitForEvents(4);
    const frames = afterAuth(back);
    expect(frames.map((f) => (f.type === "resumed" ? `resumed:${f.replayed}` : f.messageId))).toEqual([
      "missed-1", "missed-2", "missed-3", "resumed:3", "live-1",
    ]);
    const seqs = back.events().map((e) => e.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    back.close();
  });

  it("admin resume replays every event", async () => {
    const key = await producer.key({ role: "admin" });
    const a = await TestClient.authed(node.url, key);
    const epoch = a.frames[0]?.epoch as string;
    const mark = await status("A1", "B1", "mark");
    a.close();
    await status("A2", "B2", "x1");
    await status("A3", "B3", "x2");
    const back = await TestClient.authed(node.url, key, { resume: { epoch, seq: mark.seq } });
    await back.waitFor((f) => f.type === "resumed");
    expect(afterAuth(back).map((f) => f.messageId ?? f.type)).toEqual(["x1", "x2", "resumed"]);
    back.close();
  });

  it("has no gap and no duplicate at the seam while a producer publishes", async () => {
    const key = await producer.key({ role: "app", tenantId: "St", appId: "Sa" });
    const c = await TestClient.authed(node.url, key);
    const epoch = c.frames[0]?.epoch as string;
    const start = await status("St", "Sa", "m0");
    c.close();
    let stop = false;
    let n = 1;
    const published: string[] = [];
    const pump = (async () => {
      while (!stop) {
        const id = `m${n++}`;
        await status("St", "Sa", id);
        published.push(id);
      }
    })();
    await new Promise((r) => setTimeout(r, 100)); // let events pile up in the stream first
    const back = await TestClient.authed(node.url, key, { resume: { epoch, seq: start.seq } });
    await back.waitFor((f) => f.type === "resumed");
    const seam = back.frames.findIndex((f) => f.type === "resumed");
    await back.until(() => back.frames.length - seam > 50, 10_000, "live events after the seam");
    stop = true;
    await pump;
    await back.until(() => back.events().length >= published.length, 10_000, "all events");
    expect(back.events().map((e) => e.messageId)).toEqual(published);
    back.close();
  });

  it("answers resume_failed epoch for another stream incarnation, then goes live", async () => {
    const key = await producer.key({ role: "app", tenantId: "Et", appId: "Ea" });
    const c = await TestClient.authed(node.url, key, { resume: { epoch: "1999-01-01T00:00:00.000Z", seq: 1 } });
    await c.waitFor((f) => f.type === "resume_failed");
    expect(c.frames[1]).toEqual({ type: "resume_failed", reason: "epoch" });
    await status("Et", "Ea", "live");
    await c.waitForEvents(1);
    c.close();
  });

  it("answers resume_failed limit beyond RESUME_MAX_EVENTS", async () => {
    const key = await producer.key({ role: "admin" });
    const c = await TestClient.authed(node.url, key);
    const epoch = c.frames[0]?.epoch as string;
    c.close();
    await Promise.all(Array.from({ length: 520 }, (_, i) => status("Lt", "La", `l${i}`)));
    const back = await TestClient.authed(node.url, key, { resume: { epoch, seq: 1 } });
    await back.waitFor((f) => f.type === "resume_failed");
    expect(back.frames[1]).toEqual({ type: "resume_failed", reason: "limit" });
    back.close();
  });

  it("answers resume_failed retention when the events are gone from the stream", async () => {
    const key = await producer.key({ role: "app", tenantId: "Pt", appId: "Pa" });
    const c = await TestClient.authed(node.url, key);
    const epoch = c.frames[0]?.epoch as string;
    const p = await status("Pt", "Pa", "p1");
    c.close();
    await status("Pt", "Pa", "p2");
    const last = await status("Pt", "Pa", "p3");
    // The admin user may not purge (docs/security.md): shrink the stream to its last event, as
    // retention by size would, then restore the limit.
    const jsm = await jetstreamManager(producer.admin);
    await jsm.streams.update("SMS_EVENTS", { max_msgs: 1 });
    await jsm.streams.update("SMS_EVENTS", { max_msgs: -1 });
    expect((await jsm.streams.info("SMS_EVENTS")).state.first_seq).toBe(last.seq);
    const back = await TestClient.authed(node.url, key, { resume: { epoch, seq: p.seq } });
    await back.waitFor((f) => f.type === "resume_failed");
    expect(back.frames[1]).toEqual({ type: "resume_failed", reason: "retention" });
    back.close();
  });
});

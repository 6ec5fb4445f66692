/**
 * Server-side filters (SPEC 1d) on a real node and nats-server: each field alone and combined,
 * the token's ceiling, watch/unwatch live and across a resume, refusals, the derived-topic gauge.
 *
 * "Nothing extra" is checked without sleeping: once every socket has its expected events, the
 * node's delivery counter must equal what the sockets received (an extra delivery would show).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import type { SmsEvent } from "../../src/events/event.js";
import { publishEvent } from "../../src/publisher/index.js";
import { filterAllows, parseFilter } from "../../src/scope/filter.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner } from "../../src/tokens/signer-admin.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { WATCH_MAX_MESSAGE_IDS: "5" });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

interface Published {
  [field: string]: unknown;
  type: "sms_status" | "sms_inbound";
  eventId: string;
  tenantId: string;
  appId?: string;
}

const status = (tenantId: string, appId: string, messageId: string, s: string, eventId: string): Published =>
  ({ type: "sms_status", eventId, messageId, tenantId, appId, status: s });
const inbound = (tenantId: string, messageId: string, eventId: string, appId?: string): Published =>
  ({ type: "sms_inbound", eventId, messageId, from: "+1", to: "+2", body: "b", tenantId, ...(appId === undefined ? {} : { appId }) });

const delivered = (): Promise<number> => metricValue(node.node, "smsws_events_delivered_total");
const ids = (c: TestClient): string[] => c.events().map((e) => e.eventId as string);

/** Waits for every client's expected events, then for the node's count to match what arrived. */
async function settle(since: number, expected: Map<TestClient, string[]>): Promise<void> {
  for (const [c, want] of expected) await c.until(() => c.events().length >= want.length, 10_000, `${want.length} events`);
  const received = (): number => [...expected.keys()].reduce((n, c) => n + c.events().length, 0);
  await pollUntil(async () => (await delivered()) - since === received(), 10_000, "node deliveries = client receipts");
  for (const [c, want] of expected) expect(ids(c).sort()).toEqual([...want].sort());
}

describe("filters", () => {
  it("each field alone and combined narrows exactly, app and admin sockets", async () => {
    const key = await producer.key({ role: "app", tenantId: "F1", appId: "A1" });
    const admin = await producer.key({ role: "admin" });
    const filters = [
      undefined,
      { types: ["sms_inbound"] },
      { types: ["sms_status"] },
      { statuses: ["failed", "undelivered"] },
      { messageIds: ["mA"] },
      { types: ["sms_status"], statuses: ["failed"] },
      { types: ["sms_inbound"], statuses: ["failed"] },
      { messageIds: ["mA", "mB"], types: ["sms_status"] },
      { messageIds: ["mA", "mB"], types: ["sms_inbound"] },
      { messageIds: ["mA"], statuses: ["failed"] },
      { messageIds: ["mB"], statuses: ["sent", "failed"], types: ["sms_status"] },
      { messageIds: [] },
    ];
    const since = await delivered();
    const clients: { c: TestClient; filter: (typeof filters)[number]; admin: boolean }[] = [];
    for (const filter of filters) {
      clients.push({ c: await TestClient.authed(node.url, key, filter === undefined ? {} : { filter }), filter, admin: false });
    }
    clients.push({ c: await TestClient.authed(node.url, admin, { filter: { statuses: ["failed"] } }), filter: { statuses: ["failed"] }, admin: true });
    const events: Published[] = [];
    let n = 0;
    for (const m of ["mA", "mB", "mC"]) {
      for (const s of ["sent", "failed", "undelivered"]) events.push(status("F1", "A1", m, s, `f${n++}`));
      events.push(inbound("F1", m, `f${n++}`, "A1"));
      events.push(inbound("F1", m, `f${n++}`)); // tenant-wide
      events.push(status("F1", "A2", m, "failed", `f${n++}`)); // another app: admin only
      events.push(status("F2", "A1", m, "failed", `f${n++}`)); // another tenant: admin only
    }
    for (const e of events) await publishEvent(producer.nc, e);
    const expected = new Map<TestClient, string[]>();
    for (const { c, filter, admin: isAdmin } of clients) {
      const f = parseFilter(filter);
      const inScope = (e: Published) => isAdmin || (e.tenantId === "F1" && (e.appId === "A1" || e.appId === undefined));
      expected.set(c, events.filter((e) => inScope(e) && filterAllows(f, e as unknown as SmsEvent)).map((e) => e.eventId));
    }
    await settle(since, expected);
    expect(ids(clients[0]?.c as TestClient)).toHaveLength(15); // unfiltered app socket: 3 x 5
    for (const { c } of clients) c.close();
  });

  it("refuses malformed filters with auth_error and 4400, saying what is wrong", async () => {
    const key = await producer.key({ role: "app", tenantId: "F1", appId: "A1" });
    for (const [filter, reason] of [
      [{ types: ["sms_mms"] }, /unknown type/],
      [{ messageIds: "m1" }, /array/],
      [{ status: ["failed"] }, /unknown field "status"/],
      [{ messageIds: ["a", "b", "c", "d", "e", "f"] }, /at most 5 ids/],
    ] as const) {
      const c = await TestClient.connect(node.url);
      c.sendJson({ type: "auth", apiKey: key, filter });
      const closed = await c.waitClosed();
      expect(closed.code).toBe(4400);
      expect(c.frames[0]?.type).toBe("auth_error");
      expect(String(c.frames[0]?.error)).toMatch(reason);
    }
  });

  it("watch and unwatch change a socket's messages live; watch_ok counts; limits and misuse", async () => {
    const key = await producer.key({ role: "app", tenantId: "W1", appId: "A1" });
    const since = await delivered();
    const c = await TestClient.authed(node.url, key, { filter: { messageIds: [] } });
    const answer = async (msg: unknown): Promise<Record<string, unknown>> => {
      const before = c.frames.filter((f) => f.type === "watch_ok").length;
      c.sendJson(msg);
      await c.until(() => c.frames.filter((f) => f.type === "watch_ok").length > before, 5000, "watch_ok");
      return c.frames.filter((f) => f.type === "watch_ok")[before] as Record<string, unknown>;
    };
    expect(await answer({ type: "watch", messageIds: ["w1", "w2"] })).toEqual({ type: "watch_ok", count: 2 });
    expect(await metricValue(node.node, "smsws_derived_topics")).toBe(4); // 2 ids x 2 feeds
    await publishEvent(producer.nc, status("W1", "A1", "w1", "sent", "x1"));
    await publishEvent(producer.nc, status("W1", "A1", "w3", "sent", "x2"));
    await publishEvent(producer.nc, inbound("W1", "w2", "x3"));
    await settle(since, new Map([[c, ["x1", "x3"]]]));
    expect(await answer({ type: "unwatch", messageIds: ["w1", "nope"] })).toEqual({ type: "watch_ok", count: 1 });
    // The limit (WATCH_MAX_MESSAGE_IDS=5 here): ids beyond it are not added, and said so.
    expect(await answer({ type: "watch", messageIds: ["w3", "w4", "w5", "w6", "w7", "w8"] })).toEqual({ type: "watch_ok", count: 5, ignored: 2 });
    await publishEvent(producer.nc, status("W1", "A1", "w1", "failed", "x4"));
    await publishEvent(producer.nc, status("W1", "A1", "w8", "failed", "x5"));
    await publishEvent(producer.nc, status("W1", "A1", "w6", "failed", "x6"));
    await settle(since, new Map([[c, ["x1", "x3", "x6"]]]));
    c.close();
    await c.waitClosed();
    await pollUntil(async () => (await metricValue(node.node, "smsws_derived_topics")) === 0, 5000, "gauge back to 0");

    // A watch on a socket without a messageIds filter is a client bug: 4400.
    const plain = await TestClient.authed(node.url, key, { filter: { types: ["sms_status"] } });
    plain.sendJson({ type: "watch", messageIds: ["w1"] });
    expect((await plain.waitClosed()).code).toBe(4400);
    expect(plain.frames.at(-1)).toEqual({ type: "auth_error", error: "watch needs a socket authenticated with a messageIds filter" });
    const bad = await TestClient.authed(node.url, key, { filter: { messageIds: [] } });
    bad.sendJson({ type: "watch", messageIds: ["not an id"] });
    expect((await bad.waitClosed()).code).toBe(4400);
  });

  it("a token's filter claim is a ceiling: intersected with the request, and with every watch", async () => {
    const signers = await openBucket(producer.admin, "sms_token_signers");
    const signer = await createSigner(signers, { tenantId: "K1", appId: "A1" });
    const token = createConnectionToken({
      privateKey: signer.privateKeyPem,
      kid: signer.kid,
      tenantId: "K1",
      appId: "A1",
      ttlSeconds: 600,
      filter: { types: ["sms_status"], messageIds: ["k1", "k2", "k3"] },
    });
    // The node learns the signer from its KV watch: wait until a token authenticates.
    await pollUntil(async () => {
      const probe = await TestClient.connect(node.url);
      probe.sendJson({ type: "auth", apiKey: token });
      await probe.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
      probe.close();
      return probe.frames[0]?.type === "auth_ok";
    }, 10_000, "signer known to the node");
    const since = await delivered();
    const asked = await TestClient.authed(node.url, token, { filter: { messageIds: ["k2", "k9"] } });
    const bare = await TestClient.authed(node.url, token);
    asked.sendJson({ type: "watch", messageIds: ["k3", "k8"] });
    await asked.waitFor((f) => f.type === "watch_ok");
    expect(asked.frames.find((f) => f.type === "watch_ok")).toEqual({ type: "watch_ok", count: 2, ignored: 1 });
    const events = [
      status("K1", "A1", "k1", "sent", "t1"),
      status("K1", "A1", "k2", "sent", "t2"),
      inbound("K1", "k2", "t3", "A1"),
      status("K1", "A1", "k3", "sent", "t4"),
      status("K1", "A1", "k8", "sent", "t5"),
      status("K1", "A1", "k9", "sent", "t6"),
    ];
    for (const e of events) await publishEvent(producer.nc, e);
    await settle(since, new Map([[asked, ["t2", "t4"]], [bare, ["t1", "t2", "t4"]]]));
    asked.close();
    bare.close();
  });

  it("resume with a messageIds filter replays exactly the watched messages' stored events, then live", async () => {
    const key = await producer.key({ role: "app", tenantId: "R1", appId: "A1" });
    const first = await TestClient.authed(node.url, key, { filter: { messageIds: ["r1"] } });
    const epoch = first.frames[0]?.epoch as string;
    await publishEvent(producer.nc, status("R1", "A1", "r1", "queued", "s0"));
    await first.waitForEvents(1);
    const seq = first.events()[0]?.seq as number;
    first.close();
    await first.waitClosed();
    for (const [m, s, id] of [["r1", "sent", "s1"], ["r2", "sent", "s2"], ["r3", "sent", "s3"], ["r1", "delivered", "s4"]] as const) {
      await publishEvent(producer.nc, status("R1", "A1", m, s, id));
    }
    await publishEvent(producer.nc, inbound("R1", "r3", "s5"));
    const since = await delivered();
    const back = await TestClient.authed(node.url, key, { filter: { messageIds: ["r1", "r3"], types: ["sms_status"] }, resume: { epoch, seq } });
    await back.waitFor((f) => f.type === "resumed");
    back.sendJson({ type: "watch", messageIds: ["r2"] });
    await back.waitFor((f) => f.type === "watch_ok");
    await publishEvent(producer.nc, status("R1", "A1", "r2", "failed", "s6"));
    await publishEvent(producer.nc, status("R1", "A1", "r4", "failed", "s7"));
    await back.waitForEvents(4);
    const frames = back.frames.slice(1).filter((f) => f.type !== "ping" && f.type !== "watch_ok");
    expect(frames.map((f) => (f.type === "resumed" ? `resumed:${f.replayed}` : f.eventId))).toEqual(["s1", "s3", "s4", "resumed:3", "s6"]);
    // Replayed events are not counted as deliveries; the live one is, once.
    await pollUntil(async () => (await delivered()) - since === 1, 5000, "one live delivery");
    back.close();
  });
});

describe("filters through the SDK", () => {
  it("an SDK client's watches survive a reconnect and its resume replays only the watched messages", async () => {
    const { createClient } = await import("../../src/client/index.js");
    const { WebSocket } = await import("ws");
    const node = await startTestNode(nats); // default limits (WATCH_MAX_MESSAGE_IDS 1000)
    const key = await producer.key({ role: "app", tenantId: "S1", appId: "A1" });
    // 25 ids: 20 travel in the auth message, 5 in a watch frame right behind it.
    const many = Array.from({ length: 24 }, (_, i) => `z${i}`);
    const client = createClient({ url: node.url, apiKey: key, WebSocket, filter: { messageIds: [] }, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    const got: string[] = [];
    client.on("event", (e) => got.push(e.eventId));
    await new Promise<void>((resolve) => client.on("state", (s) => s.state === "live" && resolve()));
    expect(await client.watch(["s1", ...many])).toBe(25);
    await publishEvent(producer.nc, status("S1", "A1", "s1", "sent", "u1"));
    await publishEvent(producer.nc, status("S1", "A1", "s2", "sent", "u2"));
    await pollUntil(() => got.length === 1, 5000, "u1");
    // Drop every socket of the node's: the SDK reconnects and resumes with its set.
    const resumed = new Promise((resolve) => client.on("resumed", resolve));
    for (const ws of node.node.sockets) ws.end(1001, "test");
    await publishEvent(producer.nc, status("S1", "A1", "s1", "delivered", "u3"));
    await publishEvent(producer.nc, status("S1", "A1", "z23", "sent", "u4"));
    await publishEvent(producer.nc, status("S1", "A1", "s2", "delivered", "u5"));
    await resumed;
    await publishEvent(producer.nc, status("S1", "A1", "z22", "failed", "u6"));
    await pollUntil(() => got.length >= 4, 5000, "4 events");
    expect(got).toEqual(["u1", "u3", "u4", "u6"]);
    client.close();
    await node.stop();
  });
});

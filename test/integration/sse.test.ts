import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { revokeKey } from "../../src/keys/key-admin.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner, revokeSigner } from "../../src/tokens/signer-admin.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { startNodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";
import { SseReader } from "../helpers/sse.js";
import { startSteadyProducer } from "../helpers/steady-producer.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { PING_INTERVAL_MS: "300", MAX_CONNECTIONS_PER_TENANT: "2" });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

const streamUrl = (n: { http: string }, query = ""): string => `${n.http}/v1/events/stream${query === "" ? "" : `?${query}`}`;
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
const status = (tenantId: string, appId: string, messageId: string, s = "sent") => publishEvent(producer.nc, { type: "sms_status", messageId, tenantId, appId, status: s });

async function signerFor(tenantId: string, appId: string) {
  const kv = await openBucket(producer.admin, "sms_token_signers");
  const signer = await createSigner(kv, { tenantId, appId });
  const mint = (ttlSeconds = 600, extra: { jti?: string; filter?: { statuses?: string[] } } = {}) =>
    createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId, appId, ttlSeconds, ...extra });
  await pollUntil(async () => (await fetch(`${node.http}/v1/events?limit=1`, { headers: bearer(mint()) })).status === 200, 5000, "the node to know the signer");
  return { kv, signer, mint };
}

describe("GET /v1/events/stream", () => {
  it("streams the scope's live events as id/event/data, the socket's JSON, with pings", async () => {
    const key = await producer.key({ role: "app", tenantId: "Lt", appId: "La" });
    const sse = await SseReader.open(streamUrl(node), bearer(key));
    expect(sse.status).toBe(200);
    expect(sse.headers?.get("content-type")).toMatch(/^text\/event-stream/);
    await pollUntil(async () => (await metricValue(node.node, "smsws_sse_streams")) === 1, 5000, "the stream to be counted");
    const ws = await TestClient.authed(node.url, key);
    await status("Lt", "La", "a1");
    await status("Lt", "Other", "not-mine");
    await status("Xt", "La", "not-mine-either");
    await publishEvent(producer.nc, { type: "sms_inbound", messageId: "a2", tenantId: "Lt", from: "+1", to: "+2", body: "line1\nline2" });
    await sse.waitForEvents(2);
    await ws.waitForEvents(2);
    const got = sse.events();
    expect(got.map((m) => m.event)).toEqual(["sms_status", "sms_inbound"]);
    expect(got.map((m) => m.data)).toEqual(ws.raw.filter((r) => r.includes('"sms_')));
    const epoch = ws.frames[0]?.epoch as string;
    expect(got.map((m) => m.id)).toEqual(ws.events().map((e) => `${epoch}:${e.seq as number}`));
    expect((JSON.parse(got[1]?.data as string) as { body: string }).body).toBe("line1\nline2");
    await sse.until(() => sse.messages.some((m) => m.event === "ping"), 5000, "a ping");
    expect(await metricValue(node.node, "smsws_events_delivered_total")).toBeGreaterThanOrEqual(4);
    sse.close();
    ws.close();
    await pollUntil(async () => (await metricValue(node.node, "smsws_sse_streams")) === 0, 5000, "the stream to be gone");
  });

  it("takes filters as query parameters and a connection token in ?token= (never an API key)", async () => {
    const key = await producer.key({ role: "app", tenantId: "Qt", appId: "Qa" });
    const { mint } = await signerFor("Qt", "Qa");
    const inUrl = await fetch(streamUrl(node, `token=${key}`));
    expect(inUrl.status).toBe(400);
    expect(await inUrl.text()).toMatch(/API key must not be sent in a URL/);
    const both = await fetch(streamUrl(node, `token=${mint()}`), { headers: bearer(key) });
    expect(both.status).toBe(400);
    expect((await fetch(streamUrl(node))).status).toBe(401);
    expect((await fetch(streamUrl(node, "types=sms_fax"), { headers: bearer(key) })).status).toBe(400);
    const badId = await fetch(streamUrl(node), { headers: { ...bearer(key), "last-event-id": "garbage" } });
    expect(badId.status).toBe(400);
    expect(await badId.text()).toMatch(/Last-Event-ID/);

    const byToken = await SseReader.open(streamUrl(node, `token=${encodeURIComponent(mint(600, { filter: { statuses: ["failed", "delivered"] } }))}&statuses=failed,sent`));
    const byKey = await SseReader.open(streamUrl(node, "types=sms_status&statuses=delivered"), bearer(key));
    await pollUntil(async () => (await metricValue(node.node, "smsws_sse_streams")) === 2, 5000, "both streams");
    await status("Qt", "Qa", "q-sent", "sent");
    await status("Qt", "Qa", "q-failed", "failed");
    await status("Qt", "Qa", "q-delivered", "delivered");
    await byToken.waitForEvents(1);
    await byKey.waitForEvents(1);
    await status("Qt", "Qa", "q-end", "failed");
    await byToken.waitForEvents(2);
    expect(byToken.json().map((e) => e.messageId)).toEqual(["q-failed", "q-end"]);
    expect(byKey.json().map((e) => e.messageId)).toEqual(["q-delivered"]);
    byToken.close();
    byKey.close();
  });

  it("resumes from Last-Event-ID like a socket: the missed events, resumed, then live, nothing twice", async () => {
    const key = await producer.key({ role: "app", tenantId: "Rt", appId: "Ra" });
    const first = await SseReader.open(streamUrl(node), bearer(key));
    await pollUntil(async () => (await metricValue(node.node, "smsws_sse_streams")) >= 1, 5000, "the stream");
    await status("Rt", "Ra", "r1");
    await first.waitForEvents(1);
    first.close();
    const last = first.lastEventId as string;
    await status("Rt", "Ra", "r2");
    await status("Rt", "Zz", "not-mine");
    await status("Rt", "Ra", "r3");
    const back = await SseReader.open(streamUrl(node), { ...bearer(key), "last-event-id": last });
    await back.until(() => back.messages.some((m) => m.event === "resumed"), 5000, "resumed");
    await status("Rt", "Ra", "r4");
    await back.waitForEvents(3);
    expect(back.messages.filter((m) => m.event !== "ping").map((m) => (m.event === "resumed" ? `resumed:${m.data}` : (JSON.parse(m.data) as { messageId: string }).messageId))).toEqual([
      "r2", "r3", 'resumed:{"type":"resumed","replayed":2}', "r4",
    ]);
    back.close();
    const otherEpoch = await SseReader.open(streamUrl(node), { ...bearer(key), "last-event-id": "1999-01-01T00:00:00.000Z:3" });
    await otherEpoch.until(() => otherEpoch.messages.some((m) => m.event === "resume_failed"));
    expect(otherEpoch.messages.find((m) => m.event === "resume_failed")?.data).toBe('{"type":"resume_failed","reason":"epoch"}');
    otherEpoch.close();
  });

  it("ends with event: close and the socket's code when the key is revoked, the signer deleted or the token expires", async () => {
    const created = await producer.key({ role: "app", tenantId: "Vt", appId: "Va" });
    const sse = await SseReader.open(streamUrl(node), bearer(created));
    await pollUntil(async () => (await metricValue(node.node, "smsws_sse_streams")) >= 1, 5000, "the stream");
    await revokeKey(producer.kv, created);
    await sse.until(() => sse.ended, 3000, "the end");
    expect(sse.messages.at(-1)).toMatchObject({ event: "close", data: '{"code":4401,"reason":"API key revoked"}' });

    const { kv, signer, mint } = await signerFor("Vt", "Va");
    const byToken = await SseReader.open(streamUrl(node, `token=${encodeURIComponent(mint())}`));
    const expiring = await SseReader.open(streamUrl(node), bearer(mint(1)));
    expect(byToken.status).toBe(200);
    await expiring.until(() => expiring.ended, 10_000, "the expiry");
    expect(expiring.messages.at(-1)).toMatchObject({ event: "close", data: '{"code":4419,"reason":"Token expired"}' });
    await revokeSigner(kv, signer.kid);
    await byToken.until(() => byToken.ended, 3000, "the revocation");
    expect(byToken.messages.at(-1)).toMatchObject({ event: "close", data: '{"code":4401,"reason":"Token revoked"}' });
  });

  it("shares the per-tenant cap with sockets", async () => {
    const key = await producer.key({ role: "app", tenantId: "Ct", appId: "Ca" });
    const ws = await TestClient.authed(node.url, key);
    const one = await SseReader.open(streamUrl(node), bearer(key));
    expect(one.status).toBe(200);
    const res = await fetch(streamUrl(node), { headers: bearer(key) });
    expect(res.status).toBe(429);
    expect(await res.text()).toMatch(/Too many connections for this tenant/);
    one.close();
    ws.close();
  });
});

describe("SSE slow consumers and drain", () => {
  let small: TestNode;
  beforeAll(async () => {
    small = await startTestNode(nats, { MAX_BACKPRESSURE_BYTES: "65536", DRAIN_WINDOW_MS: "200", SHUTDOWN_TIMEOUT_MS: "5000" });
  });
  afterAll(async () => {
    await small?.stop();
  });

  it("ends a stream that does not read with event: close 4429, without slowing a reading one", async () => {
    const key = await producer.key({ role: "app", tenantId: "St", appId: "Sa" });
    const reading = await SseReader.open(streamUrl(small), bearer(key));
    const socket = net.connect(small.node.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(`GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    socket.pause();
    await pollUntil(async () => (await metricValue(small.node, "smsws_sse_streams")) === 2, 5000, "both streams");
    const body = "x".repeat(4000);
    for (let round = 0; (await metricValue(small.node, "smsws_slow_consumer_closes_total")) === 0; round++) {
      if (round > 200) throw new Error("the stream was never closed as slow");
      await Promise.all(Array.from({ length: 100 }, (_, i) => publishEvent(producer.nc, { type: "sms_inbound", messageId: `s${round}-${i}`, tenantId: "St", appId: "Sa", from: "+1", to: "+2", body })));
    }
    await pollUntil(async () => (await metricValue(small.node, "smsws_sse_streams")) === 1, 5000, "the slow stream to be gone");
    const published = (await metricValue(small.node, "smsws_events_received_total")) as number;
    await reading.until(() => reading.events().length >= published, 10_000, "the reader to get everything");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise<void>((resolve) => socket.once("end", () => resolve()));
    expect(Buffer.concat(chunks).toString()).toContain('event: close\ndata: {"code":4429,"reason":"slow consumer"}');
    reading.close();
  });

  it("caps SSE streams per tenant (MAX_SSE_STREAMS_PER_TENANT): 429 beyond, other tenants unaffected, a slot freed by a close", async () => {
    const capped = await startTestNode(nats, { MAX_SSE_STREAMS_PER_TENANT: "2" });
    try {
      const key = await producer.key({ role: "app", tenantId: "Mt", appId: "Ma" });
      const other = await producer.key({ role: "app", tenantId: "Mo", appId: "Ma" });
      const two = await Promise.all([1, 2].map(() => SseReader.open(streamUrl(capped), bearer(key))));
      expect(two.map((r) => r.status)).toEqual([200, 200]);
      const third = await fetch(streamUrl(capped), { headers: bearer(key) });
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).toBe("5");
      expect(await third.text()).toMatch(/Too many SSE streams for this tenant/);
      const fine = await SseReader.open(streamUrl(capped), bearer(other));
      expect(fine.status).toBe(200);
      (two[0] as SseReader).close();
      await pollUntil(async () => (await metricValue(capped.node, "smsws_sse_streams")) === 2, 5000, "the closed stream to be gone");
      const again = await SseReader.open(streamUrl(capped), bearer(key));
      expect(again.status).toBe(200);
      for (const r of [...two, fine, again]) r.close();
    } finally {
      await capped.stop();
    }
  });

  it("ends every stream with event: close 1001 on drain", async () => {
    const key = await producer.key({ role: "app", tenantId: "Dt", appId: "Da" });
    const readers = await Promise.all([1, 2, 3].map(() => SseReader.open(streamUrl(small), bearer(key))));
    await small.stop();
    for (const r of readers) {
      await r.until(() => r.ended, 5000, "the drain");
      expect(r.messages.at(-1)).toMatchObject({ event: "close", data: '{"code":1001,"reason":"server shutting down"}' });
    }
  });
});

describe("SSE across a node crash", () => {
  it("resumes with Last-Event-ID on another node after SIGKILL: nothing lost, nothing repeated", async () => {
    const key = await producer.key({ role: "app", tenantId: "Kt", appId: "app" });
    const a = await startNodeProcess(nats.url, nats.nodeEnv());
    const b = await startNodeProcess(nats.url, nats.nodeEnv());
    try {
      const events: Record<string, unknown>[] = [];
      const first = await SseReader.open(streamUrl(a), bearer(key));
      // Live once a marker arrives; the tally starts after it.
      await first.until(() => first.status === 200);
      for (let i = 0; first.events().length === 0; i++) {
        if (i > 100) throw new Error("the stream never went live");
        await publishEvent(producer.nc, { type: "sms_status", messageId: `marker-${i}`, tenantId: "Kt", appId: "app", status: "sent" });
        await first.until(() => first.events().length > 0, 100).catch(() => {});
      }
      const steady = startSteadyProducer(producer.nc, { prefix: "k", scopes: 1, rate: 200, tenantOf: () => "Kt" });
      await first.until(() => first.json().filter((e) => (e.messageId as string).startsWith("k-")).length >= 50, 10_000, "50 events");
      a.child.kill("SIGKILL");
      await a.exited;
      await first.until(() => first.ended, 5000, "the stream to break");
      events.push(...first.json());
      const second = await SseReader.open(streamUrl(b), { ...bearer(key), "last-event-id": first.lastEventId as string });
      await second.until(() => second.messages.some((m) => m.event === "resumed"), 10_000, "resumed");
      const resumedAt = second.events().length;
      await second.waitForEvents(resumedAt + 50, 10_000);
      await steady.stop();
      const total = steady.published[0]?.length as number;
      const count = (r: SseReader): number => r.json().filter((e) => (e.messageId as string).startsWith("k-")).length;
      await second.until(() => count(first) + count(second) >= total, 10_000, "every event");
      events.push(...second.json());
      second.close();
      const kept = events.filter((e) => (e.messageId as string).startsWith("k-"));
      const ids = kept.map((e) => e.messageId as string);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(steady.published[0]));
      const seqs = kept.map((e) => e.seq as number);
      expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true);
    } finally {
      a.child.kill("SIGKILL");
      b.child.kill("SIGTERM");
      await b.exited;
    }
  });
});

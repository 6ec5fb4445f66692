import { jetstreamManager } from "@nats-io/jetstream";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner } from "../../src/tokens/signer-admin.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;
let epoch: string;

interface Page {
  epoch: string;
  events: Record<string, unknown>[];
  next: string | null;
}

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { HISTORY_RATE_PER_MIN: "100000", HISTORY_SCAN_MAX: "1000" });
  producer = await startProducer(nats);
  const jsm = await jetstreamManager(producer.admin);
  epoch = new Date((await jsm.streams.info("SMS_EVENTS")).created).toISOString();
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${node.http}${path}`, { headers });
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function page(key: string, query: string): Promise<Page> {
  const res = await get(`/v1/events?${query}`, bearer(key));
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Page;
}

/** Follow `next` from a first query until it is null: every event, and the pages' sizes. */
async function all(key: string, first: string): Promise<{ events: Record<string, unknown>[]; pages: number[] }> {
  const events: Record<string, unknown>[] = [];
  const pages: number[] = [];
  let query = first;
  for (;;) {
    const p = await page(key, query);
    events.push(...p.events);
    pages.push(p.events.length);
    if (p.next === null) return { events, pages };
    expect(p.next.startsWith(`${p.epoch}:`)).toBe(true);
    query = `${first.replace(/(^|&)(after|since)=[^&]*/, "")}&after=${encodeURIComponent(p.next)}`;
  }
}

const STATUSES = ["queued", "sent", "delivered", "failed"];

/** Interleave: the scope's app, its tenant-wide inbound, another app of the tenant, another tenant. */
async function publishMix(t: string, a: string, n: number): Promise<string[]> {
  const mine: string[] = [];
  for (let i = 0; i < n; i++) {
    const status = STATUSES[i % STATUSES.length] as string;
    await publishEvent(producer.nc, { type: "sms_status", messageId: `m${i}`, tenantId: t, appId: a, status });
    mine.push(`m${i}:${status}`);
    if (i % 3 === 0) {
      await publishEvent(producer.nc, { type: "sms_inbound", messageId: `in${i}`, tenantId: t, from: "+1", to: "+2", body: "hi" });
      mine.push(`in${i}:inbound`);
    }
    await publishEvent(producer.nc, { type: "sms_status", messageId: `x${i}`, tenantId: t, appId: `${a}other`, status: "sent" });
    await publishEvent(producer.nc, { type: "sms_status", messageId: `y${i}`, tenantId: `${t}other`, appId: a, status: "sent" });
  }
  return mine;
}

const label = (e: Record<string, unknown>): string => `${e.messageId as string}:${e.type === "sms_inbound" ? "inbound" : (e.status as string)}`;

describe("GET /v1/events", () => {
  it("pages through exactly the scope's events, in order, across page boundaries and other tenants' events", async () => {
    const key = await producer.key({ role: "app", tenantId: "Ht", appId: "Ha" });
    const mine = await publishMix("Ht", "Ha", 40);
    const { events, pages } = await all(key, `limit=7&after=${encodeURIComponent(`${epoch}:0`)}`);
    expect(events.map(label)).toEqual(mine);
    expect(pages.slice(0, -1).every((n) => n === 7)).toBe(true);
    const seqs = events.map((e) => e.seq as number);
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true);
    for (const e of events) {
      expect(e.tenantId).toBe("Ht");
      expect(typeof e.eventId).toBe("string");
    }
    // Filters: statuses narrow sms_status only; types and messageIds narrow both.
    const failed = await all(key, "limit=3&since=2000-01-01T00:00:00Z&statuses=failed");
    expect(failed.events.map(label)).toEqual(mine.filter((m) => m.endsWith(":failed") || m.endsWith(":inbound")));
    const inbound = await all(key, "limit=5&since=2000-01-01T00:00:00Z&types=sms_inbound");
    expect(inbound.events.map(label)).toEqual(mine.filter((m) => m.endsWith(":inbound")));
    const two = await all(key, "since=2000-01-01T00:00:00Z&messageIds=m3,in3,y3");
    expect(two.events.map(label)).toEqual(["m3:failed", "in3:inbound"]);
  });

  it("answers the newest events without a position, and follows `since` by time", async () => {
    const key = await producer.key({ role: "app", tenantId: "Nt", appId: "Na" });
    const mine = await publishMix("Nt", "Na", 12);
    const newest = await page(key, "limit=5");
    expect(newest.events.map(label)).toEqual(mine.slice(-5));
    expect(newest.next).toBeNull();
    expect((await page(key, "limit=1000")).events.map(label)).toEqual(mine);

    const mark = new Date(Date.now() + 5).toISOString();
    await pollUntil(() => Date.now() > Date.parse(mark) + 5, 1000, "the clock to pass the mark", 2);
    const later = await publishMix("Nt", "Na", 3);
    const since = await all(key, `since=${encodeURIComponent(mark)}&limit=2`);
    expect(since.events.map(label)).toEqual(later);
  });

  it("applies a token's filter claim as a ceiling on the query's filter", async () => {
    const signers = await openBucket(producer.admin, "sms_token_signers");
    const signer = await createSigner(signers, { tenantId: "Ft", appId: "Fa" });
    const token = createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId: "Ft", appId: "Fa", ttlSeconds: 600, filter: { statuses: ["failed", "delivered"] } });
    await pollUntil(async () => (await get("/v1/events?limit=1", bearer(token))).status === 200, 5000, "the node to know the signer");
    const mine = await publishMix("Ft", "Fa", 8);
    const capped = await page(token, "since=2000-01-01T00:00:00Z&limit=1000");
    expect(capped.events.map(label)).toEqual(mine.filter((m) => /:(failed|delivered|inbound)$/.test(m)));
    const narrower = await page(token, "since=2000-01-01T00:00:00Z&statuses=failed,sent&types=sms_status");
    expect(narrower.events.map(label)).toEqual(mine.filter((m) => m.endsWith(":failed")));
  });

  it("reads a narrow filter in bounded steps: short pages with a cursor, never an event twice", async () => {
    const key = await producer.key({ role: "app", tenantId: "St", appId: "Sa" });
    // HISTORY_SCAN_MAX=1000 on this node: 1500 events of the scope, the one wanted near the end.
    const batch = [];
    for (let i = 0; i < 1500; i++) batch.push(publishEvent(producer.nc, { type: "sms_status", messageId: `s${i}`, tenantId: "St", appId: "Sa", status: "sent" }));
    await Promise.all(batch);
    await publishEvent(producer.nc, { type: "sms_status", messageId: "needle", tenantId: "St", appId: "Sa", status: "failed" });
    const first = await page(key, "since=2000-01-01T00:00:00Z&statuses=failed");
    expect(first.events).toEqual([]);
    expect(first.next).not.toBeNull();
    const rest = await all(key, `statuses=failed&after=${encodeURIComponent(first.next as string)}`);
    expect(rest.events.map((e) => e.messageId)).toEqual(["needle"]);
  });

  it("answers 409 for another epoch or a position past the end, 410 past retention", async () => {
    const key = await producer.key({ role: "app", tenantId: "Et", appId: "Ea" });
    const other = await get(`/v1/events?after=${encodeURIComponent("1999-01-01T00:00:00.000Z:1")}`, bearer(key));
    expect(other.status).toBe(409);
    expect(await other.json()).toEqual({ error: "epoch" });
    const beyond = await get(`/v1/events?after=${encodeURIComponent(`${epoch}:99999999`)}`, bearer(key));
    expect(beyond.status).toBe(409);

    const p = await publishEvent(producer.nc, { type: "sms_status", messageId: "gone", tenantId: "Et", appId: "Ea", status: "sent" });
    await publishEvent(producer.nc, { type: "sms_status", messageId: "gone2", tenantId: "Et", appId: "Ea", status: "sent" });
    const last = await publishEvent(producer.nc, { type: "sms_status", messageId: "kept", tenantId: "Et", appId: "Ea", status: "sent" });
    const jsm = await jetstreamManager(producer.admin);
    await jsm.streams.update("SMS_EVENTS", { max_msgs: 1 });
    await jsm.streams.update("SMS_EVENTS", { max_msgs: -1 });
    const gone = await get(`/v1/events?after=${encodeURIComponent(`${epoch}:${p.seq as number}`)}`, bearer(key));
    expect(gone.status).toBe(410);
    expect(await gone.json()).toEqual({ error: "retention" });
    const kept = await page(key, `after=${encodeURIComponent(`${epoch}:${(last.seq as number) - 1}`)}`);
    expect(kept.events.map((e) => e.messageId)).toEqual(["kept"]);
    expect(kept.next).toBeNull();
  });

  it("refuses every malformed request with a 4xx naming the problem, and keeps serving", async () => {
    const key = await producer.key({ role: "app", tenantId: "Zt", appId: "Za" });
    const admin = await producer.key({ role: "admin" });
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ["after=nope", bearer(key), 400, /after/],
      ["after=:5", bearer(key), 400, /after/],
      [`after=${encodeURIComponent(`${epoch}:-1`)}`, bearer(key), 400, /after/],
      [`after=${encodeURIComponent(`${epoch}:1e3`)}`, bearer(key), 400, /after/],
      [`after=${encodeURIComponent(`${epoch}:99999999999999999`)}`, bearer(key), 400, /after/],
      [`after=${"x".repeat(200)}:1`, bearer(key), 400, /after/],
      ["since=yesterday", bearer(key), 400, /since/],
      ["since=2025-02-30T00:00:00Z", bearer(key), 400, /since/],
      ["since=2025-01-01T00:00:00", bearer(key), 400, /since/],
      [`after=${encodeURIComponent(`${epoch}:1`)}&since=2025-01-01T00:00:00Z`, bearer(key), 400, /after/],
      ["limit=0", bearer(key), 400, /limit/],
      ["limit=-5", bearer(key), 400, /limit/],
      ["limit=1001", bearer(key), 400, /limit/],
      ["limit=99999999999999999999", bearer(key), 400, /limit/],
      ["limit=1.5", bearer(key), 400, /limit/],
      ["limit=1&limit=2", bearer(key), 400, /limit/],
      ["types=sms_fax", bearer(key), 400, /types/],
      ["types=", bearer(key), 400, /types/],
      ["statuses=", bearer(key), 400, /statuses/],
      ["messageIds=a%20b", bearer(key), 400, /messageIds/],
      [`messageIds=${Array.from({ length: 101 }, (_, i) => `m${i}`).join(",")}`, bearer(key), 400, /messageIds/],
      ["tipes=sms_status", bearer(key), 400, /tipes/],
      ["after=%E0%A4%A", bearer(key), 400, /after/],
      [`token=${key}`, {}, 400, /token/],
      ["", {}, 401, /Missing credential/],
      ["", { authorization: "Basic abc" }, 400, /Authorization/],
      ["", { authorization: "Bearer" }, 400, /Authorization/],
      ["", bearer("not-a-key"), 401, /Invalid API key/],
      ["", bearer("a.b.c"), 401, /Invalid token/],
      ["", { authorization: `Bearer ${key}, Bearer ${admin}` }, 400, /Authorization/],
    ];
    for (const [query, headers, status, message] of cases) {
      const res = await get(`/v1/events?${query}`, headers);
      const body = await res.text();
      expect(res.status, `${query} ${JSON.stringify(headers)}: ${body}`).toBe(status);
      expect(body, query).toMatch(message);
      expect((JSON.parse(body) as { events?: unknown }).events).toBeUndefined();
    }
    // Two Authorization lines (fetch joins duplicates; a raw request does not).
    const doubled = await raw(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`);
    expect(doubled).toMatch(/^HTTP\/1.1 400/);
    expect(doubled).toMatch(/more than once/);
    // Past uWS's 4 KiB request limit the connection is closed; the node stays up.
    const long = await raw(`GET /v1/events?messageIds=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n${"authorization: Bearer " + key}\r\nConnection: close\r\n\r\n`);
    expect(long).not.toMatch(/^HTTP\/1.1 200/);
    const longish = await get(`/v1/events?messageIds=${"a,".repeat(1500)}a`, bearer(key));
    expect([400, 431]).toContain(longish.status);
    expect((await get("/v1/events?limit=1", bearer(key))).status).toBe(200);
    expect(await metricValue(node.node, "smsws_history_requests_total", { status: "400" })).toBeGreaterThan(20);
  });

  it("never returns an event outside the scope, whatever the query", async () => {
    const key = await producer.key({ role: "app", tenantId: "Ot", appId: "Oa" });
    await publishMix("Ot", "Oa", 5);
    const first = (await page(key, "since=2000-01-01T00:00:00Z&limit=1")).events[0]?.seq as number;
    for (const q of ["limit=1000", "since=2000-01-01T00:00:00Z&limit=1000", `after=${encodeURIComponent(`${epoch}:${first - 1}`)}&limit=1000`, "messageIds=y1,x1,m1"]) {
      const p = await page(key, q);
      for (const e of p.events) {
        expect(e.tenantId).toBe("Ot");
        expect(["Oa", undefined]).toContain(e.appId);
      }
    }
  });

  it("serves a 1000-event page to a slow reader without holding anything else up", async () => {
    const key = await producer.key({ role: "app", tenantId: "Bt", appId: "Ba" });
    const batch = [];
    for (let i = 0; i < 1000; i++) batch.push(publishEvent(producer.nc, { type: "sms_inbound", messageId: `b${i}`, tenantId: "Bt", appId: "Ba", from: "+1", to: "+2", body: "x".repeat(4000) }));
    await Promise.all(batch);
    const socket = net.connect(node.node.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(`GET /v1/events?limit=1000&since=2000-01-01T00:00:00Z HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    socket.pause();
    // Meanwhile the node answers others at once.
    const other = await get("/v1/events?limit=1", bearer(key));
    expect(other.status).toBe(200);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve) => socket.once("end", () => resolve()));
    // Read slowly: resume, pause, resume.
    for (let i = 0; i < 5; i++) {
      socket.resume();
      await new Promise((r) => setImmediate(r));
      socket.pause();
    }
    socket.resume();
    await ended;
    const text = Buffer.concat(chunks).toString();
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    const parsed = JSON.parse(body) as Page;
    expect(parsed.events).toHaveLength(1000);
    expect(new Set(parsed.events.map((e) => e.messageId))).toEqual(new Set(Array.from({ length: 1000 }, (_, i) => `b${i}`)));
    const seqs = parsed.events.map((e) => e.seq as number);
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true);
  });

  it("has the WebSocket resume from a time: events stored at or after it, then live", async () => {
    const key = await producer.key({ role: "app", tenantId: "Wt", appId: "Wa" });
    await publishEvent(producer.nc, { type: "sms_status", messageId: "old", tenantId: "Wt", appId: "Wa", status: "sent" });
    const mark = new Date(Date.now() + 5).toISOString();
    await pollUntil(() => Date.now() > Date.parse(mark) + 5, 1000, "the clock to pass the mark", 2);
    await publishEvent(producer.nc, { type: "sms_status", messageId: "new1", tenantId: "Wt", appId: "Wa", status: "sent" });
    await publishEvent(producer.nc, { type: "sms_status", messageId: "elsewhere", tenantId: "Wt", appId: "Wb", status: "sent" });
    await publishEvent(producer.nc, { type: "sms_status", messageId: "new2", tenantId: "Wt", appId: "Wa", status: "sent" });
    const c = await TestClient.authed(node.url, key, { resume: { since: mark } });
    await c.waitFor((f) => f.type === "resumed");
    await publishEvent(producer.nc, { type: "sms_status", messageId: "live", tenantId: "Wt", appId: "Wa", status: "sent" });
    await c.waitForEvents(3);
    expect(c.frames.slice(1).filter((f) => f.type !== "ping").map((f) => (f.type === "resumed" ? `resumed:${f.replayed as number}` : f.messageId))).toEqual(["new1", "new2", "resumed:2", "live"]);
    c.close();
    const bad = await TestClient.connect(node.url);
    bad.sendJson({ type: "auth", apiKey: key, resume: { since: "last tuesday" } });
    expect((await bad.waitFor((f) => f.type === "auth_error")).error).toMatch(/resume.since/);
    expect((await bad.waitClosed()).code).toBe(4400);
  });
});

describe("GET /v1/events limits and CORS", () => {
  let limited: TestNode;
  let limitedToo: TestNode;
  beforeAll(async () => {
    limited = await startTestNode(nats, { HISTORY_RATE_PER_MIN: "3", ALLOWED_ORIGINS: "https://app.example.com" });
    limitedToo = await startTestNode(nats, { HISTORY_RATE_PER_MIN: "3" });
  });
  afterAll(async () => {
    await limited?.stop();
    await limitedToo?.stop();
  });

  it("counts the rate per node, as documented (docs/security.md): a credential at its limit on one node is served by another", async () => {
    const key = await producer.key({ role: "app", tenantId: "Pn", appId: "Pa" });
    const on = async (n: TestNode): Promise<number> => (await fetch(`${n.http}/v1/events?limit=1`, { headers: bearer(key) })).status;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await on(limited));
    for (let i = 0; i < 4; i++) statuses.push(await on(limitedToo));
    // HISTORY_RATE_PER_MIN x 2 nodes requests a minute in all.
    expect(statuses).toEqual([200, 200, 200, 429, 200, 200, 200, 429]);
  });

  it("answers 429 with Retry-After past the per-credential rate, per credential", async () => {
    const key = await producer.key({ role: "app", tenantId: "Lt", appId: "La" });
    const other = await producer.key({ role: "app", tenantId: "Lt", appId: "Lb" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${limited.http}/v1/events?limit=1`, { headers: bearer(key) })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const res = await fetch(`${limited.http}/v1/events?limit=1`, { headers: bearer(key) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${limited.http}/v1/events?limit=1`, { headers: bearer(other) })).status).toBe(200);
  });

  it("follows ALLOWED_ORIGINS, preflight included; requests without Origin are not browsers' and pass", async () => {
    const key = await producer.key({ role: "app", tenantId: "Ct", appId: "Ca" });
    const pre = await fetch(`${limited.http}/v1/events`, { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const preBad = await fetch(`${limited.http}/v1/events/stream`, { method: "OPTIONS", headers: { origin: "https://evil.example.com" } });
    expect(preBad.status).toBe(403);
    const ok = await fetch(`${limited.http}/v1/events?limit=1`, { headers: { ...bearer(key), origin: "https://app.example.com" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const bad = await fetch(`${limited.http}/v1/events?limit=1`, { headers: { ...bearer(key), origin: "https://evil.example.com" } });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ parameter: "Origin" });
  });
});

function raw(request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(node.node.port, "127.0.0.1", () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
  });
}

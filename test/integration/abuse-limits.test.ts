import { connect as tcpConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishSmsStatus } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { pollUntil } from "../helpers/poll.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

let nats: TestNats;
let producer: Producer;
const nodes: TestNode[] = [];

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
});

afterAll(async () => {
  for (const n of nodes) await n.stop();
  await producer?.close();
  await nats?.stop();
});

async function node(env: Record<string, string>): Promise<TestNode> {
  const n = await startTestNode(nats, env);
  nodes.push(n);
  return n;
}

/** Node's http client sends an array value as repeated header lines (ws types headers as strings). */
type Headers = Record<string, string | string[]>;
const asWsHeaders = (headers: Headers): Record<string, string> => headers as unknown as Record<string, string>;

function refusedWith(url: string, headers: Headers = {}): Promise<string> {
  return TestClient.connect(url, { headers: asWsHeaders(headers) }).then(
    () => "upgraded",
    (err: Error) => err.message,
  );
}

describe("abuse limits", () => {
  it("refuses an Origin outside ALLOWED_ORIGINS with 403 before the upgrade", async () => {
    const n = await node({ ALLOWED_ORIGINS: "https://app.example.com" });
    expect(await refusedWith(n.url, { Origin: "https://evil.example.com" })).toBe("HTTP 403");
    expect(await refusedWith(n.url)).toBe("HTTP 403");
    const ok = await TestClient.connect(n.url, { headers: { Origin: "https://app.example.com" } });
    ok.close();
    expect(await metricValue(n.node, "smsws_upgrades_refused_total", { reason: "origin" })).toBe(2);
  });

  it("caps unauthenticated sockets per address (429) and in total (503)", async () => {
    const n = await node({ MAX_UNAUTHENTICATED_PER_IP: "3", MAX_UNAUTHENTICATED: "5", TRUSTED_PROXY_HEADER: "x-forwarded-for", TRUSTED_PROXIES: "127.0.0.1" });
    const a = await Promise.all([1, 2, 3].map(() => TestClient.connect(n.url, { headers: { "X-Forwarded-For": "198.51.100.1" } })));
    expect(await refusedWith(n.url, { "X-Forwarded-For": "198.51.100.1" })).toBe("HTTP 429");
    const b = await Promise.all([1, 2].map(() => TestClient.connect(n.url, { headers: { "X-Forwarded-For": "198.51.100.2" } })));
    expect(await refusedWith(n.url, { "X-Forwarded-For": "198.51.100.3" })).toBe("HTTP 503");
    // Authenticating frees the slot at once.
    const key = await producer.key({ role: "app", tenantId: "Ab", appId: "a" });
    (a[0] as TestClient).sendJson({ type: "auth", apiKey: key });
    await (a[0] as TestClient).waitFor((f) => f.type === "auth_ok");
    const again = await TestClient.connect(n.url, { headers: { "X-Forwarded-For": "198.51.100.1" } });
    for (const c of [...a, ...b, again]) c.close();
  });

  it("ignores the forwarded header unless TRUSTED_PROXY_HEADER names it", async () => {
    const n = await node({ MAX_UNAUTHENTICATED_PER_IP: "2" });
    const a = await Promise.all([1, 2].map((i) => TestClient.connect(n.url, { headers: { "X-Forwarded-For": `203.0.113.${i}` } })));
    expect(await refusedWith(n.url, { "X-Forwarded-For": "203.0.113.9" })).toBe("HTTP 429");
    for (const c of a) c.close();
  });

  it("never locks a valid key out of an address that failed many times (shared NAT)", async () => {
    const n = await node({ AUTH_FAILURES_PER_IP_PER_MIN: "3", AUTH_FAILURE_MAX_DELAY_MS: "1500", TRUSTED_PROXY_HEADER: "x-real-ip", TRUSTED_PROXIES: "127.0.0.1" });
    const headers = { "X-Real-IP": "192.0.2.50" };
    for (let i = 0; i < 6; i++) {
      const c = await TestClient.connect(n.url, { headers });
      c.sendJson({ type: "auth", apiKey: "wrong" });
      expect((await c.waitClosed()).code).toBe(4401);
    }
    // Another customer behind the same address, with a valid key: upgraded and authenticated.
    const key = await producer.key({ role: "app", tenantId: "Nat", appId: "a" });
    const ok = await TestClient.connect(n.url, { headers });
    const sent = Date.now();
    ok.sendJson({ type: "auth", apiKey: key });
    await ok.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
    expect(ok.frames[0]?.type).toBe("auth_ok");
    // Answered at once: the failure delay is for failed attempts only.
    expect(Date.now() - sent).toBeLessThan(1000);
    ok.close();
    expect(await metricValue(n.node, "smsws_upgrades_refused_total")).toBe(0);
    // The failed attempts past the limit were answered late (the brake on guessing).
    expect(await metricValue(n.node, "smsws_auth_delayed_total")).toBeGreaterThanOrEqual(3);
  });

  it("counts failing HTTP authentications held by the failure delay against the address's allowance; past it, 429 at once", async () => {
    const n = await node({ AUTH_FAILURES_PER_IP_PER_MIN: "1", AUTH_FAILURE_MAX_DELAY_MS: "1500", MAX_UNAUTHENTICATED_PER_IP: "3", TRUSTED_PROXY_HEADER: "x-real-ip", TRUSTED_PROXIES: "127.0.0.1" });
    const headers = { "X-Real-IP": "192.0.2.77", Authorization: "Bearer smsws_not-a-key" };
    const answered: { status: number; retryAfter: string | null }[] = [];
    // Ten failing requests at once from one address: three are held for the delay (the
    // address's allowance), the other seven are answered 429 at once, before any held one.
    const requests = Array.from({ length: 10 }, () =>
      fetch(`${n.http}/v1/events`, { headers }).then(async (res) => {
        await res.arrayBuffer();
        answered.push({ status: res.status, retryAfter: res.headers.get("retry-after") });
      }),
    );
    await pollUntil(() => answered.length >= 7, 5000, "the requests past the allowance answered");
    expect(answered.slice(0, 7).map((a) => a.status)).toEqual(Array(7).fill(429));
    expect(answered.every((a) => a.retryAfter !== null && Number(a.retryAfter) >= 1)).toBe(true);
    // The held requests use the same allowance as sockets waiting to authenticate.
    expect(n.node.admission.unauthenticated).toBe(3);
    expect(await refusedWith(n.url, { "X-Real-IP": "192.0.2.77" })).toBe("HTTP 429");
    const otherAddress = await TestClient.connect(n.url, { headers: { "X-Real-IP": "192.0.2.78" } });
    otherAddress.close();
    await otherAddress.waitClosed();
    await Promise.all(requests);
    expect(answered.slice(7).map((a) => a.status)).toEqual([401, 401, 401]);
    // Answered, they free the allowance.
    await pollUntil(() => n.node.admission.unauthenticated === 0, 2000, "the allowance freed");
    expect(await metricValue(n.node, "smsws_history_requests_total", { status: "429" })).toBe(7);
    expect(await metricValue(n.node, "smsws_auth_delayed_total")).toBe(3);
  });

  it("reads the address the trusted proxy appended, not a line the client forged before it", async () => {
    const n = await node({ MAX_UNAUTHENTICATED_PER_IP: "1", TRUSTED_PROXY_HEADER: "x-forwarded-for", TRUSTED_PROXIES: "127.0.0.1" });
    // The proxy (127.0.0.1 here) appends the real client 198.51.100.7 as its own header line;
    // the client chose the first line itself, different each time, to dodge the per-address cap.
    const first = await TestClient.connect(n.url, { headers: asWsHeaders({ "X-Forwarded-For": ["203.0.113.1", "198.51.100.7"] }) });
    expect(await refusedWith(n.url, { "X-Forwarded-For": ["203.0.113.2", "198.51.100.7"] })).toBe("HTTP 429");
    expect(await refusedWith(n.url, { "X-Forwarded-For": "203.0.113.3, 198.51.100.7" })).toBe("HTTP 429");
    const other = await TestClient.connect(n.url, { headers: asWsHeaders({ "X-Forwarded-For": ["198.51.100.7", "198.51.100.8"] }) });
    first.close();
    other.close();
  });

  it("caps authenticated sockets per tenant with auth_error and 4429; other tenants and admins unaffected", async () => {
    const n = await node({ MAX_CONNECTIONS_PER_TENANT: "2" });
    const k1 = await producer.key({ role: "app", tenantId: "Cap", appId: "a1" });
    const k2 = await producer.key({ role: "app", tenantId: "Cap", appId: "a2" });
    const other = await producer.key({ role: "app", tenantId: "Free", appId: "a" });
    const admin = await producer.key({ role: "admin" });
    const held = [await TestClient.authed(n.url, k1), await TestClient.authed(n.url, k2)];
    const third = await TestClient.connect(n.url);
    third.sendJson({ type: "auth", apiKey: k1 });
    expect((await third.waitClosed()).code).toBe(4429);
    expect(third.raw).toEqual(['{"type":"auth_error","error":"Too many connections for this tenant"}']);
    const fine = [await TestClient.authed(n.url, other), await TestClient.authed(n.url, admin)];
    // A slot freed by a close is available again.
    const before = n.node.sockets.count;
    (held[0] as TestClient).close();
    await pollUntil(() => n.node.sockets.count < before, 5000, "close seen by the node");
    const later = await TestClient.authed(n.url, k1);
    for (const c of [...held, ...fine, later]) c.close();
  });

  it("closes sockets past MAX_LIFETIME_S with 1001", async () => {
    const n = await node({ MAX_LIFETIME_S: "1" });
    const key = await producer.key({ role: "app", tenantId: "Life", appId: "a" });
    const c = await TestClient.authed(n.url, key);
    const opened = Date.now();
    const closed = await c.waitClosed(5000);
    expect(closed.code).toBe(1001);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
  });

  it("drops a peer that stops answering protocol pings after IDLE_TIMEOUT_S", async () => {
    const n = await node({ IDLE_TIMEOUT_S: "8" });
    const key = await producer.key({ role: "app", tenantId: "Idle", appId: "a" });
    const healthy = await TestClient.authed(n.url, key);
    // A raw client that upgrades, authenticates, then never answers anything (it reads and
    // discards, so that it notices the server closing).
    const port = Number(new URL(n.url).port);
    const sock = tcpConnect(port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.on("data", () => {});
    sock.write(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const payload = Buffer.from(JSON.stringify({ type: "auth", apiKey: key }));
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
    const ended = new Promise<number>((resolve) => sock.once("close", () => resolve(Date.now())));
    const start = Date.now();
    await ended;
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThan(4000);
    expect(elapsed).toBeLessThan(20_000);
    // The well-behaved client (ws answers pings) is still there and receives events.
    await publishSmsStatus(producer.nc, { messageId: "still", tenantId: "Idle", appId: "a", status: "sent" });
    await healthy.waitForEvents(1);
    healthy.close();
  }, 30_000);
});

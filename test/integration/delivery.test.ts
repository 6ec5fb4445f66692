import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishSmsInbound, publishSmsStatus } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;
const packr = new Packr({ useRecords: false });

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { PING_INTERVAL_MS: "200" });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

describe("event delivery", () => {
  it("delivers sms_status in the seed's shape, plus eventId and seq", async () => {
    const key = await producer.key({ role: "app", tenantId: "tenant_abc123def456abcd", appId: "app_abc123def456abcd" });
    const c = await TestClient.authed(node.url, key);
    const published = await publishSmsStatus(producer.nc, {
      eventId: "evt_1",
      messageId: "msg_a1b2c3d4e5f6",
      appId: "app_abc123def456abcd",
      tenantId: "tenant_abc123def456abcd",
      status: "sent",
      rcMessageId: "123456789",
      timestamp: "2026-03-01T10:00:01.000Z",
    });
    await c.waitForEvents(1);
    expect(c.rawEvents()[0]).toBe(
      `{"type":"sms_status","eventId":"evt_1","messageId":"msg_a1b2c3d4e5f6","appId":"app_abc123def456abcd",` +
        `"tenantId":"tenant_abc123def456abcd","status":"sent","rcMessageId":"123456789",` +
        `"timestamp":"2026-03-01T10:00:01.000Z","seq":${published.seq}}`,
    );
    await publishSmsStatus(producer.nc, {
      eventId: "evt_2",
      messageId: "msg_a1b2c3d4e5f6",
      appId: "app_abc123def456abcd",
      tenantId: "tenant_abc123def456abcd",
      status: "failed",
      error: "RingCentral not connected for this tenant",
      timestamp: "2026-03-01T10:00:02.000Z",
    });
    await c.waitForEvents(2);
    expect(c.events()[1]).toEqual({
      type: "sms_status",
      eventId: "evt_2",
      messageId: "msg_a1b2c3d4e5f6",
      appId: "app_abc123def456abcd",
      tenantId: "tenant_abc123def456abcd",
      status: "failed",
      error: "RingCentral not connected for this tenant",
      timestamp: "2026-03-01T10:00:02.000Z",
      seq: (published.seq as number) + 1,
    });
    c.close();
  });

  it("delivers sms_inbound in the seed's shape, tenant-wide ones to every app of the tenant", async () => {
    const key = await producer.key({ role: "app", tenantId: "tenant_in", appId: "app_x" });
    const other = await producer.key({ role: "app", tenantId: "tenant_in", appId: "app_y" });
    const c = await TestClient.authed(node.url, key);
    const d = await TestClient.authed(node.url, other);
    const p = await publishSmsInbound(producer.nc, {
      eventId: "evt_in",
      messageId: "msg_c3d4e5f6a1b2",
      from: "+15559876543",
      to: "+15551234567",
      body: "Yes, I confirm",
      rcMessageId: "123456789",
      tenantId: "tenant_in",
      timestamp: "2026-03-01T14:30:00.000Z",
    });
    await c.waitForEvents(1);
    await d.waitForEvents(1);
    expect(c.rawEvents()[0]).toBe(
      `{"type":"sms_inbound","eventId":"evt_in","messageId":"msg_c3d4e5f6a1b2","from":"+15559876543",` +
        `"to":"+15551234567","body":"Yes, I confirm","rcMessageId":"123456789","tenantId":"tenant_in",` +
        `"timestamp":"2026-03-01T14:30:00.000Z","seq":${p.seq}}`,
    );
    expect(d.rawEvents()[0]).toBe(c.rawEvents()[0]);
    c.close();
    d.close();
  });

  it("delivers the direct path (core NATS) without seq", async () => {
    const key = await producer.key({ role: "app", tenantId: "t_direct", appId: "a_direct" });
    const c = await TestClient.authed(node.url, key);
    const p = await publishSmsStatus(
      producer.direct,
      { messageId: "m1", appId: "a_direct", tenantId: "t_direct", status: "queued" },
      { direct: true },
    );
    expect(p.seq).toBeUndefined();
    await c.waitForEvents(1);
    expect(c.events()[0]).toEqual({ ...p.event });
    expect(c.events()[0]).not.toHaveProperty("seq");
    c.close();
  });

  it("sends {type:ping} on the configured interval", async () => {
    const key = await producer.key({ role: "app", tenantId: "t_ping", appId: "a_ping" });
    const c = await TestClient.authed(node.url, key);
    const sibling = await TestClient.authed(node.url, await producer.key({ role: "app", tenantId: "t_ping", appId: "b_ping" }));
    const admin = await TestClient.authed(node.url, await producer.key({ role: "admin" }));
    for (const client of [c, sibling, admin]) {
      await client.until(() => client.frames.filter((f) => f.type === "ping").length >= 2, 3000, "two pings");
      expect(client.raw.filter((r) => r.includes("ping"))[0]).toBe('{"type":"ping"}');
    }
    // Exactly one ping per interval per socket, even with two apps of the tenant on the node.
    const pings = (client: TestClient) => client.frames.filter((f) => f.type === "ping").length;
    expect(Math.abs(pings(c) - pings(sibling))).toBeLessThanOrEqual(1);
    expect(Math.abs(pings(c) - pings(admin))).toBeLessThanOrEqual(1);
    for (const client of [c, sibling, admin]) client.close();
  });

  it("drops and counts bad bus payloads while good events still flow", async () => {
    const key = await producer.key({ role: "app", tenantId: "t_bad", appId: "a_bad" });
    const c = await TestClient.authed(node.url, key);
    const good = { type: "sms_status", eventId: "g", messageId: "m", appId: "a_bad", tenantId: "t_bad", status: "sent", timestamp: "2026-01-01T00:00:00.000Z" };
    const before = async (reason: string) => metricValue(node.node, "smsws_events_rejected_total", { reason });
    const counts = {
      decode: await before("decode"),
      missing_field: await before("missing_field"),
      type_mismatch: await before("type_mismatch"),
      tenant_mismatch: await before("tenant_mismatch"),
      app_mismatch: await before("app_mismatch"),
    };
    producer.direct.publish("sms.t_bad.a_bad.status", new Uint8Array([0xc1, 0xff, 0x00]));
    producer.direct.publish("sms.t_bad.a_bad.status", new TextEncoder().encode('{"json":"not msgpack"}'));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack([1, 2, 3]));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack({ ...good, messageId: undefined }));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack({ ...good, messageId: 42 }));
    producer.direct.publish("sms.t_bad.a_bad.inbound", packr.pack(good));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack({ ...good, tenantId: "t_other" }));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack({ ...good, appId: "a_other" }));
    producer.direct.publish("sms.t_bad.a_bad.status", packr.pack({ ...good, eventId: "good-1" }));
    await producer.direct.flush();
    await c.waitForEvents(1);
    expect(c.events().map((e) => e.eventId)).toEqual(["good-1"]);
    expect(await before("decode")).toBeGreaterThanOrEqual(counts.decode + 2);
    expect(await before("missing_field")).toBe(counts.missing_field + 2);
    expect(await before("type_mismatch")).toBe(counts.type_mismatch + 1);
    expect(await before("tenant_mismatch")).toBe(counts.tenant_mismatch + 1);
    expect(await before("app_mismatch")).toBe(counts.app_mismatch + 1);
    c.close();
  });

  it("keeps uWS publishes to topics: one event reaches many sockets and is counted per socket", async () => {
    const key = await producer.key({ role: "app", tenantId: "t_many", appId: "a_many" });
    const clients = await Promise.all(Array.from({ length: 50 }, () => TestClient.authed(node.url, key)));
    const before = await metricValue(node.node, "smsws_events_delivered_total");
    await publishSmsStatus(producer.nc, { messageId: "m", appId: "a_many", tenantId: "t_many", status: "sent" });
    await Promise.all(clients.map((c) => c.waitForEvents(1)));
    expect(await metricValue(node.node, "smsws_events_delivered_total")).toBe(before + 50);
    for (const c of clients) c.close();
  });
});

describe("metrics endpoint", () => {
  it("serves every smsws_ metric and the process defaults on METRICS_PORT", async () => {
    const res = await fetch(`http://127.0.0.1:${node.node.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of [
      "smsws_connections", "smsws_connections_opened_total", "smsws_connections_closed_total", "smsws_auth_total",
      "smsws_events_received_total", "smsws_events_delivered_total", "smsws_events_rejected_total",
      "smsws_fanout_latency_seconds_bucket", "smsws_slow_consumer_closes_total", "smsws_nats_connected",
      "smsws_nats_reconnects_total", "smsws_active_scopes", "smsws_nats_subscriptions", "smsws_keys",
      "smsws_keys_last_update_timestamp_seconds", "smsws_draining", "smsws_ready",
      "process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[ {]`, "m"));
    }
    expect(text).toMatch(/^smsws_nats_connected 1$/m);
    expect((await fetch(`http://127.0.0.1:${node.node.metricsPort}/other`)).status).toBe(404);
    // Kept off the public port.
    expect((await fetch(`${node.http}/metrics`)).status).toBe(404);
  });
});

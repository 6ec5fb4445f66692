import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishSmsInbound } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { MAX_BACKPRESSURE_BYTES: String(256 * 1024) });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

describe("slow consumers", () => {
  it("closes a stalled reader with 4429 and counts it, while the others get every event", async () => {
    const key = await producer.key({ role: "app", tenantId: "Ts", appId: "As" });
    const healthy = await Promise.all(Array.from({ length: 20 }, () => TestClient.authed(node.url, key)));
    const stalled = await TestClient.authed(node.url, key);
    // Stop reading: the kernel buffers fill, then the node's send buffer grows.
    const tcp = (stalled.ws as unknown as { _socket: Socket })._socket;
    tcp.pause();
    // The largest body the bus contract allows (4096 characters), 3 UTF-8 bytes each: ~12 KB a frame.
    const body = "€".repeat(4096);
    const events = 1600; // ~19 MB per socket: far beyond loopback TCP buffers plus the limit
    for (let i = 0; i < events; i++) {
      await publishSmsInbound(producer.direct, { messageId: `m${i}`, tenantId: "Ts", appId: "As", from: "+15550000001", to: "+15550000002", body }, { direct: true });
    }
    await Promise.all(healthy.map((c) => c.waitForEvents(events, 30_000)));
    for (const c of healthy) {
      expect(c.events().map((e) => e.messageId)).toEqual(Array.from({ length: events }, (_, i) => `m${i}`));
      expect(c.closed).toBeUndefined();
    }
    expect(await metricValue(node.node, "smsws_slow_consumer_closes_total")).toBe(1);
    expect(await metricValue(node.node, "smsws_connections_closed_total", { code: "4429" })).toBe(1);
    tcp.resume();
    const closed = await stalled.waitClosed(10_000);
    // The close frame queues behind megabytes the reader never took: it may see 1006 instead.
    expect([4429, 1006]).toContain(closed.code);
    expect(stalled.events().length).toBeLessThan(events);
    for (const c of healthy) c.close();
  });
});

/**
 * A node cut off from NATS while producers keep publishing: when its connection comes back it
 * fetches what its feeds missed from the stream; its sockets (never disconnected) get every event
 * once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/keys/key-record.js";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let proxy: TcpProxy;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  proxy = await startTcpProxy([nats.port]);
  const viaProxy = `nats://127.0.0.1:${proxy.port}`;
  node = await startTestNode({ url: viaProxy, nodeEnv: () => ({ ...nats.nodeEnv(), NATS_URL: viaProxy }) });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await proxy?.close();
  await producer?.close();
  await nats?.stop();
});


/** The node reaches NATS through the proxy, so the harness cannot tell it shares the producer's
 * server: wait for its key store here. */
async function key(input: Parameters<Producer["key"]>[0]): Promise<string> {
  const apiKey = await producer.key(input);
  await pollUntil(() => node.node.keyStore.has(hashApiKey(apiKey)), 5000, "the key at the node");
  return apiKey;
}

describe("gap repair", () => {
  it("delivers the events published while the node was cut off from NATS, once, in order", async () => {
    const appKey = await key({ role: "app", tenantId: "Gt", appId: "Ga" });
    const adminKey = await key({ role: "admin" });
    const app = await TestClient.authed(node.url, appKey);
    const admin = await TestClient.authed(node.url, adminKey);
    const ids: string[] = [];
    const publish = async (id: string) => {
      await publishEvent(producer.nc, { type: "sms_status", messageId: id, tenantId: "Gt", appId: "Ga", status: "sent" });
      ids.push(id);
    };
    for (let i = 0; i < 5; i++) await publish(`before-${i}`);
    await app.waitForEvents(5);

    proxy.block(true);
    proxy.cut();
    await pollUntil(async () => (await metricValue(node.node, "smsws_nats_connected")) === 0);
    for (let i = 0; i < 20; i++) await publish(`while-cut-${i}`);
    proxy.block(false);
    await pollUntil(async () => (await metricValue(node.node, "smsws_nats_connected")) === 1);
    for (let i = 0; i < 5; i++) await publish(`after-${i}`);

    await app.waitForEvents(ids.length, 15_000);
    await admin.waitForEvents(ids.length, 15_000);
    expect(app.events().map((e) => e.messageId)).toEqual(ids);
    expect(admin.events().map((e) => e.messageId)).toEqual(ids);
    expect(app.closed).toBeUndefined();
    expect(await metricValue(node.node, "smsws_gap_repairs_total")).toBeGreaterThanOrEqual(20);
    app.close();
    admin.close();
  });

  it("repairs on reconnect even when nothing else is published on the subject afterwards", async () => {
    const apiKey = await key({ role: "app", tenantId: "Ht", appId: "Ha" });
    const c = await TestClient.authed(node.url, apiKey);
    await publishEvent(producer.nc, { type: "sms_status", messageId: "h0", tenantId: "Ht", appId: "Ha", status: "sent" });
    await c.waitForEvents(1);
    proxy.block(true);
    proxy.cut();
    await pollUntil(async () => (await metricValue(node.node, "smsws_nats_connected")) === 0);
    for (let i = 1; i <= 10; i++) {
      await publishEvent(producer.nc, { type: "sms_status", messageId: `h${i}`, tenantId: "Ht", appId: "Ha", status: "sent" });
    }
    proxy.block(false);
    await c.waitForEvents(11, 15_000);
    expect(c.events().map((e) => e.messageId)).toEqual(Array.from({ length: 11 }, (_, i) => `h${i}`));
    c.close();
  });
});

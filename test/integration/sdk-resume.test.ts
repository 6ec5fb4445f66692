/**
 * The SDK ends with every event exactly once, in order, across: a restart of NATS itself, a
 * slow-consumer close, and a client that was offline (closed and re-created from its saved
 * position). The producer retries unacknowledged publishes with the same eventId (the stream
 * de-duplicates them), which is what the publisher contract asks of producers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { createClient, type SmsEvent, type SmsWsClient } from "../../src/client/index.js";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { publishEvent } from "../../src/publisher/index.js";
import { startProducer, startTestNode, type Producer, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";
import { publishAcked } from "../helpers/steady-producer.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});


function sdk(url: string, apiKey: string, extra: Partial<Parameters<typeof createClient>[0]> = {}) {
  const events: SmsEvent[] = [];
  const client = createClient({ url, apiKey, WebSocket: WebSocket as never, reconnect: { initialDelayMs: 100, maxDelayMs: 500 }, ...extra });
  client.on("event", (e) => events.push(e));
  return { client, events };
}

function exactlyOnceInOrder(events: SmsEvent[], expected: string[]): void {
  expect(events.map((e) => e.messageId)).toEqual(expected);
  const seqs = events.map((e) => e.seq as number);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
}

describe("SDK resume", () => {
  it("a NATS restart mid-stream loses nothing", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "smsws-sdk-nats-"));
    let nats: EmbeddedNats = await startNatsServer({ port, storeDir: dir });
    const node: TestNode = await startTestNode(nats);
    const producer = await startProducer(nats);
    cleanups.push(async () => {
      await node.stop();
      await producer.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const key = await producer.key({ role: "app", tenantId: "Nr", appId: "app" });
    const clients = Array.from({ length: 30 }, () => sdk(node.url, key));
    await pollUntil(() => clients.every((c) => c.client.state === "live"), 10_000, "live");
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(`a${i}`);
    for (const id of ids) await publishAcked(producer.nc, id, "Nr");
    await nats.stop();
    const during = Array.from({ length: 100 }, (_, i) => `b${i}`);
    const pending = (async () => {
      for (const id of during) await publishAcked(producer.nc, id, "Nr");
    })();
    nats = await startNatsServer({ port, storeDir: dir });
    await pending;
    ids.push(...during);
    for (let i = 0; i < 100; i++) {
      ids.push(`c${i}`);
      await publishAcked(producer.nc, `c${i}`, "Nr");
    }
    await pollUntil(() => clients.every((c) => c.events.length >= ids.length), 20_000, "all events");
    for (const c of clients) {
      exactlyOnceInOrder(c.events, ids);
      c.client.close();
    }
  });

  it("a slow-consumer close (4429) is resumed without loss", async () => {
    const nats = await startNatsServer();
    const node = await startTestNode(nats, { MAX_BACKPRESSURE_BYTES: String(128 * 1024) });
    const producer = await startProducer(nats);
    cleanups.push(async () => {
      await node.stop();
      await producer.close();
      await nats.stop();
    });
    const key = await producer.key({ role: "app", tenantId: "Sc", appId: "app" });
    const sockets: WebSocket[] = [];
    class Recording extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const slow = sdk(node.url, key, { WebSocket: Recording as never });
    await pollUntil(() => slow.client.state === "live", 5000, "live");
    const tcp = (sockets[0] as unknown as { _socket: Socket })._socket;
    tcp.pause();
    // The largest body the bus contract allows (4096 characters), 3 UTF-8 bytes each: ~12 KB a frame.
    const big = "€".repeat(4096);
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = `s${i}`;
      ids.push(id);
      await publishEvent(producer.nc, { type: "sms_inbound", eventId: id, messageId: id, tenantId: "Sc", appId: "app", from: "+15550000001", to: "+15550000002", body: big });
    }
    await pollUntil(() => node.node.sockets.count === 0, 10_000, "slow consumer closed");
    tcp.resume();
    await pollUntil(() => slow.events.length >= ids.length, 20_000, "all events after resume");
    exactlyOnceInOrder(slow.events, ids);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    slow.client.close();
  });

  it("a client offline for a while resumes from its saved position", async () => {
    const nats = await startNatsServer();
    const node = await startTestNode(nats);
    const producer = await startProducer(nats);
    cleanups.push(async () => {
      await node.stop();
      await producer.close();
      await nats.stop();
    });
    const key = await producer.key({ role: "app", tenantId: "Off", appId: "app" });
    const first = sdk(node.url, key);
    await pollUntil(() => first.client.state === "live", 5000, "live");
    const ids = Array.from({ length: 50 }, (_, i) => `o${i}`);
    for (const id of ids.slice(0, 10)) await publishAcked(producer.nc, id, "Off");
    await pollUntil(() => first.events.length === 10, 5000, "first events");
    const saved = first.client.position;
    first.client.close();
    for (const id of ids.slice(10, 40)) await publishAcked(producer.nc, id, "Off");
    const second = sdk(node.url, key, { resumeFrom: saved });
    await pollUntil(() => second.client.state === "live", 5000, "live again");
    for (const id of ids.slice(40)) await publishAcked(producer.nc, id, "Off");
    await pollUntil(() => second.events.length >= 40, 10_000, "missed and new events");
    exactlyOnceInOrder([...first.events, ...second.events], ids);
    second.client.close();
  });
});

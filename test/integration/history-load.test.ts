/**
 * The event loop during a burst of 1000-event history pages while sockets receive live events:
 * the longest delay is printed (a measurement, not an assertion: CI machines differ), and every
 * socket still gets every live event.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { freePort } from "../../src/dev/embedded-nats.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { scrapeMetric, startNodeProcess } from "../helpers/node-process.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { HISTORY_RATE_PER_MIN: "100000", HISTORY_CONCURRENCY: "16" });
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

describe("history under load", () => {
  it("prints the longest event-loop delay during 1000-event pages while sockets receive live events", async () => {
    const key = await producer.key({ role: "app", tenantId: "Pt", appId: "Pa" });
    const stored = [];
    for (let i = 0; i < 2000; i++) stored.push(publishEvent(producer.nc, { type: "sms_inbound", messageId: `h${i}`, tenantId: "Pt", appId: "Pa", from: "+1", to: "+2", body: "x".repeat(300) }));
    await Promise.all(stored);
    const sockets = await Promise.all(Array.from({ length: 50 }, () => TestClient.authed(node.url, key)));
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    let live = 0;
    const t0 = Date.now();
    const publishing = (async () => {
      for (; live < 500; live++) await publishEvent(producer.nc, { type: "sms_status", messageId: `live${live}`, tenantId: "Pt", appId: "Pa", status: "sent" });
    })();
    const pages = 40;
    const reads = await Promise.all(
      Array.from({ length: pages }, async () => {
        const res = await fetch(`${node.http}/v1/events?since=2000-01-01T00:00:00Z&limit=1000`, { headers: { authorization: `Bearer ${key}` } });
        return ((await res.json()) as { events: unknown[] }).events.length;
      }),
    );
    await publishing;
    await Promise.all(sockets.map((s) => s.waitForEvents(500, 20_000)));
    histogram.disable();
    const seconds = (Date.now() - t0) / 1000;
    // The test process hosts the node, the 50 socket clients and the HTTP clients alike.
    console.log(
      `history-load: ${pages} pages x 1000 events (${(pages * 1000 / seconds).toFixed(0)} events/s served) with 50 sockets receiving 500 live events; ` +
        `event-loop delay max ${(histogram.max / 1e6).toFixed(1)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms, mean ${(histogram.mean / 1e6).toFixed(1)} ms over ${seconds.toFixed(1)} s`,
    );
    expect(reads.every((n) => n === 1000)).toBe(true);
    for (const s of sockets) s.close();
  });

  it("prints the serving node's own longest event-loop delay (a separate `sms-ws serve` process)", async () => {
    const key = await producer.key({ role: "app", tenantId: "Pt", appId: "Pa" });
    const metricsPort = await freePort();
    const served = await startNodeProcess(nats.url, { ...nats.nodeEnv(), METRICS_PORT: String(metricsPort), HISTORY_RATE_PER_MIN: "100000", HISTORY_CONCURRENCY: "16" });
    try {
      const sockets = await Promise.all(Array.from({ length: 50 }, () => TestClient.authed(served.url, key)));
      // prom-client resets the loop-delay histogram at each collection: this scrape starts the window.
      await scrapeMetric(metricsPort, "nodejs_eventloop_lag_max_seconds");
      let live = 0;
      const publishing = (async () => {
        for (; live < 500; live++) await publishEvent(producer.nc, { type: "sms_status", messageId: `plive${live}`, tenantId: "Pt", appId: "Pa", status: "sent" });
      })();
      const reads = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const res = await fetch(`${served.http}/v1/events?since=2000-01-01T00:00:00Z&limit=1000`, { headers: { authorization: `Bearer ${key}` } });
          return ((await res.json()) as { events: unknown[] }).events.length;
        }),
      );
      await publishing;
      await Promise.all(sockets.map((s) => s.waitForEvents(500, 20_000)));
      const max = (await scrapeMetric(metricsPort, "nodejs_eventloop_lag_max_seconds")) as number;
      // Only the max: prom-client's percentiles of this window are not meaningful after its reset.
      console.log(`history-load (serve process): 40 pages x 1000 events with 50 sockets receiving 500 live events; node event-loop delay max ${(max * 1000).toFixed(1)} ms`);
      expect(reads.every((n) => n === 1000)).toBe(true);
      for (const s of sockets) s.close();
    } finally {
      served.child.kill("SIGTERM");
      await served.exited;
    }
  });
});

/**
 * Graceful shutdown of a real `sms-ws serve` process: readiness turns 503 at once, new upgrades
 * are refused, sockets close with 1001 spread over the window, NATS drains, exit 0 in time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNodeProcess } from "../helpers/node-process.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, type TestNats } from "../helpers/harness.js";

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
});

afterAll(async () => {
  await nats?.stop();
});

describe("graceful drain", () => {
  it("SIGTERM: 503 at once, upgrades refused, 1001 spread over the window, exit 0 in time", async () => {
    const producer = await startProducer(nats);
    const key = await producer.key({ role: "app", tenantId: "Td", appId: "Ad" });
    await producer.close();
    const delayMs = 600;
    const windowMs = 1500;
    const serve = await startNodeProcess(nats.url, { ...nats.nodeEnv(), DRAIN_DELAY_MS: String(delayMs), DRAIN_WINDOW_MS: String(windowMs), SHUTDOWN_TIMEOUT_MS: "6000" });
    const clients = await Promise.all(Array.from({ length: 300 }, () => TestClient.authed(serve.url, key)));
    const closeTimes: number[] = [];
    for (const c of clients) c.ws.once("close", () => closeTimes.push(Date.now()));
    expect((await fetch(`${serve.http}/readyz`)).status).toBe(200);

    const t0 = Date.now();
    serve.child.kill("SIGTERM");
    // Step 1: readiness turns 503 at once; liveness still answers; new upgrades are refused.
    let ready = 200;
    while (ready === 200) ready = (await fetch(`${serve.http}/readyz`)).status;
    expect(ready).toBe(503);
    expect(Date.now() - t0).toBeLessThan(delayMs);
    expect((await fetch(`${serve.http}/healthz`)).status).toBe(200);
    await expect(TestClient.connect(serve.url)).rejects.toThrow(/503/);
    expect(closeTimes).toHaveLength(0);

    const exit = await serve.exited;
    expect(exit.code).toBe(0);
    expect(exit.t - t0).toBeLessThan(6000);
    await Promise.all(clients.map((c) => c.waitClosed()));
    expect(new Set(clients.map((c) => c.closed?.code))).toEqual(new Set([1001]));

    // Step 3: closes start after the delay and are spread over the window, not all at once.
    closeTimes.sort((a, b) => a - b);
    const first = (closeTimes[0] as number) - t0;
    const last = (closeTimes.at(-1) as number) - t0;
    expect(first).toBeGreaterThanOrEqual(delayMs - 50);
    expect(last - first).toBeGreaterThan(windowMs * 0.6);
    const buckets = new Map<number, number>();
    for (const t of closeTimes) {
      const b = Math.floor((t - t0 - delayMs) / (windowMs / 10));
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    // Evenly spread: no tenth of the window takes more than a quarter of the sockets.
    expect(Math.max(...buckets.values())).toBeLessThan(clients.length / 4);

    // The order, from the node's own log: draining -> (delay) -> drained after NATS drain.
    const msgs = serve.lines.map((l) => l.msg);
    expect(msgs.indexOf("draining")).toBeGreaterThan(msgs.indexOf("gateway listening"));
    expect(msgs.indexOf("drained")).toBeGreaterThan(msgs.indexOf("draining"));
  });
});

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { publishSmsStatus } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNode, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const storeDir = mkdtempSync(join(tmpdir(), "smsws-outage-"));
let nats: EmbeddedNats | undefined;
let node: TestNode | undefined;

afterAll(async () => {
  await node?.stop();
  await nats?.stop();
  rmSync(storeDir, { recursive: true, force: true });
});

async function readyz(n: TestNode): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${n.http}/readyz`);
  return { status: res.status, body: await res.json() };
}


describe("NATS outage", () => {
  it("readiness follows the connection; sockets stay; delivery resumes after the server returns", async () => {
    const port = await freePort();
    nats = await startNatsServer({ port, storeDir });
    node = await startTestNode(nats);
    const producer = await startProducer(nats);
    const key = await producer.key({ role: "app", tenantId: "To", appId: "Ao" });
    await producer.close();
    const c = await TestClient.authed(node.url, key);
    expect((await readyz(node)).status).toBe(200);

    await nats.stop();
    const n = node;
    await pollUntil(async () => (await readyz(n)).status === 503);
    expect((await readyz(n)).body).toEqual({ status: "not_ready", reasons: ["nats_disconnected"] });
    expect(await metricValue(n.node, "smsws_nats_connected")).toBe(0);
    expect((await fetch(`${n.http}/healthz`)).status).toBe(200);
    expect(c.closed).toBeUndefined();

    nats = await startNatsServer({ port, storeDir });
    await pollUntil(async () => (await readyz(n)).status === 200);
    expect(await metricValue(n.node, "smsws_nats_reconnects_total")).toBeGreaterThanOrEqual(1);
    const p2 = await startProducer(nats);
    await publishSmsStatus(p2.nc, { messageId: "after", tenantId: "To", appId: "Ao", status: "sent" });
    await c.waitForEvents(1, 10_000);
    expect(c.events()[0]?.messageId).toBe("after");
    await p2.close();
    c.close();
  });
});

describe("start-up without NATS", () => {
  it("answers /healthz at once, /readyz 503 with reasons and upgrades 503, then serves when NATS appears", async () => {
    const natsPort = await freePort();
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, "serve"], {
      env: { ...process.env, NATS_URL: `nats://127.0.0.1:${natsPort}`, HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: "0", LOG_LEVEL: "silent", AUTO_PROVISION: "true", DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "0", AUTH_FAILURES_PER_IP_PER_MIN: "0" },
      stdio: "ignore",
    });
    const http = `http://127.0.0.1:${port}`;
    let lateNats: EmbeddedNats | undefined;
    try {
      await pollUntil(async () => (await fetch(`${http}/healthz`).catch(() => undefined))?.status === 200, 10_000, "healthz");
      const r = await fetch(`${http}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { reasons: string[] }).reasons).toEqual(expect.arrayContaining(["nats_disconnected", "keys_not_loaded"]));
      await expect(TestClient.connect(`ws://127.0.0.1:${port}/ws`)).rejects.toThrow(/503/);

      lateNats = await startNatsServer({ port: natsPort });
      await pollUntil(async () => (await fetch(`${http}/readyz`)).status === 200, 15_000, "ready once NATS is up");
      const producer = await startProducer(lateNats);
      const key = await producer.key({ role: "app", tenantId: "Late", appId: "a" });
      // A process node learns keys through its watcher: wait for it rather than sleep.
      let c: TestClient | undefined;
      await pollUntil(async () => {
        const attempt = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
        attempt.sendJson({ type: "auth", apiKey: key });
        await attempt.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
        if (attempt.frames[0]?.type === "auth_ok") c = attempt;
        else attempt.close();
        return c !== undefined;
      }, 10_000, "the new key accepted");
      await publishSmsStatus(producer.nc, { messageId: "late", tenantId: "Late", appId: "a", status: "sent" });
      await (c as TestClient).waitForEvents(1);
      (c as TestClient).close();
      await producer.close();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await lateNats?.stop();
    }
  });
});

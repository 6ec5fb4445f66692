import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { publishSmsStatus } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNode, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

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

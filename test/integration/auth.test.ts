import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_CLIENT_FRAME_BYTES } from "../../src/tokens/limits.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, startTestNode, metricValue, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;
let appKey: string;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats, { AUTH_TIMEOUT_MS: "300" });
  producer = await startProducer(nats);
  appKey = await producer.key({ role: "app", tenantId: "t1", appId: "a1" });
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

async function firstFrameThenClose(send: (c: TestClient) => void) {
  const c = await TestClient.connect(node.url);
  send(c);
  const closed = await c.waitClosed();
  return { frames: c.frames, raw: c.raw, closed };
}

describe("authentication", () => {
  it("accepts a valid key with auth_ok carrying the stream epoch", async () => {
    const c = await TestClient.authed(node.url, appKey);
    expect(c.frames[0]).toEqual({ type: "auth_ok", epoch: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    c.close();
  });

  it("answers an unknown key with the seed's error and 4401", async () => {
    const r = await firstFrameThenClose((c) => c.sendJson({ type: "auth", apiKey: "nope" }));
    expect(r.raw).toEqual(['{"type":"auth_error","error":"Invalid API key"}']);
    expect(r.closed.code).toBe(4401);
  });

  it.each([
    ["bad JSON", (c: TestClient) => c.ws.send("{not json"), /not valid JSON/],
    ["wrong type", (c: TestClient) => c.sendJson({ type: "subscribe", apiKey: "x" }), /type "auth"/],
    ["missing key", (c: TestClient) => c.sendJson({ type: "auth" }), /missing apiKey/],
    ["empty key", (c: TestClient) => c.sendJson({ type: "auth", apiKey: "" }), /missing apiKey/],
    ["an array", (c: TestClient) => c.sendJson([1, 2]), /JSON object/],
    ["a binary frame", (c: TestClient) => c.ws.send(Buffer.from('{"type":"auth","apiKey":"k"}'), { binary: true }), /binary/],
    ["bad resume", (c: TestClient) => c.sendJson({ type: "auth", apiKey: appKey, resume: { epoch: "", seq: -1 } }), /resume/],
  ])("rejects %s with auth_error and 4400", async (_name, send, error) => {
    const r = await firstFrameThenClose(send);
    expect(r.frames).toHaveLength(1);
    expect(r.frames[0]?.type).toBe("auth_error");
    expect(String(r.frames[0]?.error)).toMatch(error);
    expect(r.closed.code).toBe(4400);
  });

  it("times out a socket that never authenticates with 4408", async () => {
    const c = await TestClient.connect(node.url);
    const closed = await c.waitClosed(3000);
    expect(c.raw).toEqual(['{"type":"auth_error","error":"Authentication timeout"}']);
    expect(closed.code).toBe(4408);
  });

  it("ignores a second auth message and unknown types after authentication", async () => {
    const c = await TestClient.authed(node.url, appKey);
    c.sendJson({ type: "auth", apiKey: "nope" });
    c.sendJson({ type: "future_feature", x: 1 });
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    // A round trip through the server: the socket still gets pings/events and is not closed.
    const appKeyClient = await TestClient.authed(node.url, appKey);
    appKeyClient.close();
    expect(c.closed).toBeUndefined();
    expect(c.frames.map((f) => f.type)).toEqual(["auth_ok"]);
    c.close();
  });

  it("closes with 1009 on a frame larger than MAX_CLIENT_FRAME_BYTES (8 KiB), before or after auth", async () => {
    const before = await TestClient.connect(node.url);
    before.sendJson({ type: "auth", apiKey: "x".repeat(MAX_CLIENT_FRAME_BYTES) });
    expect((await before.waitClosed()).code).toBe(1009);
    const after = await TestClient.authed(node.url, appKey);
    after.sendJson({ type: "note", pad: "y".repeat(MAX_CLIENT_FRAME_BYTES - 20) });
    expect((await after.waitClosed()).code).toBe(1009);
  });

  it("counts auth outcomes", async () => {
    expect(await metricValue(node.node, "smsws_auth_total", { outcome: "ok" })).toBeGreaterThan(0);
    expect(await metricValue(node.node, "smsws_auth_total", { outcome: "invalid_key" })).toBeGreaterThan(0);
    expect(await metricValue(node.node, "smsws_auth_total", { outcome: "bad_request" })).toBeGreaterThan(0);
    expect(await metricValue(node.node, "smsws_auth_total", { outcome: "timeout" })).toBeGreaterThan(0);
  });
});

describe("http routes", () => {
  it("serves /healthz, /readyz and 404 elsewhere", async () => {
    expect((await fetch(`${node.http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${node.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    expect((await fetch(`${node.http}/other`)).status).toBe(404);
    expect((await fetch(`${node.http}/ws`)).status).toBe(404);
  });
});

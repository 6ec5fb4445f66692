/**
 * Connection tokens end to end: real nats-server (production permissions), real nodes, real
 * sockets. Outcomes, refresh, expiry at exp, revocation of a signer and of one token across two
 * nodes, jose interop, the seed's own client with a token, and the SDK across an expiry and a
 * node restart.
 */
import type { KV } from "@nats-io/kv";
import { SignJWT, importPKCS8 } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { openBucket } from "../../src/bus/buckets.js";
import { createClient, type SmsEvent } from "../../src/client/index.js";
import { freePort } from "../../src/dev/embedded-nats.js";
import { publishEvent } from "../../src/publisher/index.js";
import { FILTER_LIMITS, TOKEN_MAX_LENGTH } from "../../src/tokens/limits.js";
import { createConnectionToken, generateSignerKeyPair } from "../../src/tokens/mint-token.js";
import { createSigner, revokeSigner, type CreatedSigner } from "../../src/tokens/signer-admin.js";
import { revokeTokenId } from "../../src/tokens/token-revocation.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { startNodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let n1: TestNode;
let n2: TestNode;
let producer: Producer;
let signerKv: KV;
let revokedKv: KV;

beforeAll(async () => {
  nats = await startTestNats();
  [n1, n2] = await Promise.all([startTestNode(nats), startTestNode(nats)]);
  producer = await startProducer(nats);
  signerKv = await openBucket(producer.admin, "sms_token_signers");
  revokedKv = await openBucket(producer.admin, "sms_revoked_tokens");
});

afterAll(async () => {
  await n1?.stop();
  await n2?.stop();
  await producer?.close();
  await nats?.stop();
});

/** A signer every node has loaded. */
async function signer(tenantId: string, appId?: string): Promise<CreatedSigner> {
  const created = await createSigner(signerKv, { tenantId, ...(appId === undefined ? {} : { appId }) });
  await pollUntil(() => n1.node.signerStore.has(created.kid) && n2.node.signerStore.has(created.kid), 5000, "the signer on both nodes");
  return created;
}

function token(s: CreatedSigner, options: { tenantId?: string; appId?: string; ttl?: number; jti?: string; sub?: string; now?: number } = {}): string {
  return createConnectionToken({
    privateKey: s.privateKeyPem,
    kid: s.kid,
    tenantId: options.tenantId ?? s.tenantId,
    appId: options.appId ?? s.appId ?? "a1",
    ttlSeconds: options.ttl ?? 600,
    ...(options.jti === undefined ? {} : { jti: options.jti }),
    ...(options.sub === undefined ? {} : { sub: options.sub }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

async function refused(url: string, credential: string): Promise<{ error: unknown; code: number }> {
  const c = await TestClient.connect(url);
  c.sendJson({ type: "auth", apiKey: credential });
  const closed = await c.waitClosed();
  return { error: c.frames[0]?.error, code: closed.code };
}

const status = (tenantId: string, appId: string, messageId: string) =>
  publishEvent(producer.nc, { type: "sms_status", messageId, tenantId, appId, status: "sent" });

describe("connection tokens", () => {
  it("authenticates with a token in apiKey (seed field) or token; auth_ok carries exp; events flow", async () => {
    const s = await signer("Tk", "a1");
    const t = token(s, { ttl: 300 });
    const a = await TestClient.authed(n1.url, t);
    const b = await TestClient.authed(n2.url, "", { apiKey: undefined, token: t });
    const exp = JSON.parse(Buffer.from(t.split(".")[1] as string, "base64url").toString()).exp as number;
    expect(a.frames[0]).toMatchObject({ type: "auth_ok", exp, epoch: expect.any(String) });
    expect(b.frames[0]).toMatchObject({ type: "auth_ok", exp });
    await status("Tk", "a1", "m1");
    await status("Tk", "other", "not-mine");
    await a.waitForEvents(1);
    await b.waitForEvents(1);
    expect(a.events().map((e) => e.messageId)).toEqual(["m1"]);
    expect(await metricValue(n1.node, "smsws_auth_total", { outcome: "token_ok" })).toBeGreaterThanOrEqual(1);
    a.close();
    b.close();
  });

  it("refuses bad tokens with the spec's errors and codes, and counts them", async () => {
    const s = await signer("Tb", "a1");
    const other = await signer("Tother", "a1");
    const before = await metricValue(n1.node, "smsws_auth_total", { outcome: "token_invalid" });
    const forged = createConnectionToken({ privateKey: generateSignerKeyPair().privateKeyPem, kid: s.kid, tenantId: "Tb", appId: "a1", ttlSeconds: 60 });
    expect(await refused(n1.url, forged)).toEqual({ error: "Invalid token", code: 4401 });
    // A signer of another tenant cannot mint for this one.
    expect(await refused(n1.url, token(other, { tenantId: "Tb" }))).toEqual({ error: "Invalid token", code: 4401 });
    // A signer bound to app a1 cannot mint for a2.
    expect(await refused(n1.url, token(s, { appId: "a2" }))).toEqual({ error: "Invalid token", code: 4401 });
    const [h, p] = token(s).split(".") as [string, string];
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid: s.kid })).toString("base64url")}.${p}.`;
    expect(await refused(n1.url, none)).toEqual({ error: "Invalid token", code: 4401 });
    expect(await refused(n1.url, `${h}.${p}.AAAA`)).toEqual({ error: "Invalid token", code: 4401 });
    expect(await metricValue(n1.node, "smsws_auth_total", { outcome: "token_invalid" })).toBe(before + 5);
    const expired = token(s, { ttl: 60, now: Date.now() - 3_600_000 });
    expect(await refused(n1.url, expired)).toEqual({ error: "Token expired", code: 4419 });
    expect(await metricValue(n1.node, "smsws_auth_total", { outcome: "token_expired" })).toBeGreaterThanOrEqual(1);
  });

  it("a maximal token (TOKEN_MAX_LENGTH) fits in the auth frame with a resume and a filter, and authenticates", async () => {
    const s = await signer("Tmax", "a1");
    const ids = Array.from({ length: FILTER_LIMITS.messageIds }, (_, i) => `m${i}-`.padEnd(40, "x"));
    const mint = (n: number, pad: number): string =>
      createConnectionToken({ privateKey: s.privateKeyPem, kid: s.kid, tenantId: "Tmax", appId: "a1", ttlSeconds: 300, sub: "u".repeat(pad), filter: { messageIds: ids.slice(0, n) } });
    // The longest token this signer can mint within the limit (base64url skips some lengths).
    let n = 1;
    while (n < ids.length && mint(n + 1, 1).length <= TOKEN_MAX_LENGTH) n++;
    let pad = 1;
    while (pad < 128 && mint(n, pad + 1).length <= TOKEN_MAX_LENGTH) pad++;
    const longest = mint(n, pad);
    expect(longest.length).toBeGreaterThan(TOKEN_MAX_LENGTH - 3);
    expect(longest.length).toBeLessThanOrEqual(TOKEN_MAX_LENGTH);
    const frame = { type: "auth", token: longest, resume: { since: new Date(Date.now() - 60_000).toISOString() }, filter: { messageIds: ["m1"] } };
    // Over the old 4 KiB frame limit: this socket used to be closed 1009.
    expect(Buffer.byteLength(JSON.stringify(frame))).toBeGreaterThan(4096);
    const c = await TestClient.connect(n1.url);
    c.sendJson(frame);
    expect(await c.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error")).toMatchObject({ type: "auth_ok" });
    expect(c.closed).toBeUndefined();
    c.close();
  });

  it("accepts a token minted by jose (the tenant's own JWT library)", async () => {
    const s = await signer("Tj", "a1");
    const key = await importPKCS8(s.privateKeyPem, "EdDSA");
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ tenantId: "Tj", appId: "a1", sub: "user-7" })
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: s.kid })
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .sign(key);
    const c = await TestClient.authed(n1.url, jwt);
    expect(c.frames[0]).toMatchObject({ type: "auth_ok", exp: now + 120 });
    c.close();
  });

  it("the seed's own browser snippet works unchanged with a token in place of the key", async () => {
    const s = await signer("Ts", "a1");
    const YOUR_API_KEY = token(s);
    const received: unknown[] = [];
    let authOk = false;
    // The seed document's code, with the ws package standing in for the browser's WebSocket.
    const ws = new WebSocket(n2.url);
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", apiKey: YOUR_API_KEY }));
    };
    ws.onmessage = (event) => {
      const data = JSON.parse(String(event.data));
      if (data.type === "ping") return;
      if (data.type === "auth_ok") {
        authOk = true;
        return;
      }
      received.push(data);
    };
    await pollUntil(() => authOk, 5000, "auth_ok");
    await status("Ts", "a1", "seed-1");
    await pollUntil(() => received.length === 1, 5000, "the event");
    expect(received[0]).toMatchObject({ type: "sms_status", messageId: "seed-1" });
    ws.close();
  });

  it("closes a token socket within 1 s of exp; a refresh before exp keeps it open", async () => {
    const s = await signer("Te", "a1");
    const short = token(s, { ttl: 2 });
    const exp = JSON.parse(Buffer.from(short.split(".")[1] as string, "base64url").toString()).exp as number;
    const expiring = await TestClient.authed(n1.url, short);
    const refreshed = await TestClient.authed(n1.url, short);
    refreshed.sendJson({ type: "refresh", token: token(s, { ttl: 120 }) });
    const ok = await refreshed.waitFor((f) => f.type === "refresh_ok");
    expect(ok.exp).toBeGreaterThan(exp + 100);
    const closed = await expiring.waitClosed(5000);
    const lateMs = Date.now() - exp * 1000;
    expect(closed).toEqual({ code: 4419, reason: "Token expired" });
    expect(expiring.frames.at(-1)).toEqual({ type: "auth_error", error: "Token expired" });
    expect(lateMs).toBeLessThan(1000);
    // The refreshed socket outlives the first token and still gets events.
    await status("Te", "a1", "after-exp");
    await refreshed.waitForEvents(1);
    expect(refreshed.closed).toBeUndefined();
    refreshed.close();
  });

  it("a refresh with an expired token closes 4419; with another app's token 4401", async () => {
    const s = await signer("Tr");
    const a = await TestClient.authed(n1.url, token(s, { appId: "a1" }));
    a.sendJson({ type: "refresh", token: token(s, { appId: "a1", ttl: 60, now: Date.now() - 3_600_000 }) });
    expect(await a.waitClosed()).toEqual({ code: 4419, reason: "Token expired" });
    const b = await TestClient.authed(n1.url, token(s, { appId: "a1" }));
    b.sendJson({ type: "refresh", token: token(s, { appId: "a2" }) });
    expect(await b.waitClosed()).toEqual({ code: 4401, reason: "Invalid token" });
    expect(await metricValue(n1.node, "smsws_token_refreshes_total", { outcome: "scope" })).toBeGreaterThanOrEqual(1);
  });

  it("deleting a signer closes its sockets on every node within 1 s, and only those", async () => {
    const s = await signer("Tv", "a1");
    const keep = await signer("Tv", "a1");
    const sockets = await Promise.all([TestClient.authed(n1.url, token(s)), TestClient.authed(n2.url, token(s))]);
    const survivor = await TestClient.authed(n2.url, token(keep));
    const started = Date.now();
    await revokeSigner(signerKv, s.kid);
    for (const c of sockets) expect(await c.waitClosed(1000)).toEqual({ code: 4401, reason: "Token revoked" });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(survivor.closed).toBeUndefined();
    expect((await refused(n1.url, token(s))).code).toBe(4401);
    survivor.close();
  });

  it("revoking one token (jti) closes its sockets on every node within 1 s, and only those", async () => {
    const s = await signer("Tq", "a1");
    const revoked = token(s, { jti: "tok-revoked-1", sub: "alice" });
    const sockets = await Promise.all([TestClient.authed(n1.url, revoked), TestClient.authed(n2.url, revoked)]);
    const other = await TestClient.authed(n1.url, token(s, { jti: "tok-kept-1" }));
    const started = Date.now();
    await revokeTokenId(revokedKv, "tok-revoked-1");
    for (const c of sockets) expect(await c.waitClosed(1000)).toEqual({ code: 4401, reason: "Token revoked" });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(other.closed).toBeUndefined();
    expect(await refused(n2.url, revoked)).toEqual({ error: "Token revoked", code: 4401 });
    other.close();
  });
});

describe("refresh narrows, budgets and caches (issue 19, W-2/W-8)", () => {
  const withFilter = (s: CreatedSigner, filter: Record<string, unknown> | undefined, ttl = 600): string =>
    createConnectionToken({ privateKey: s.privateKeyPem, kid: s.kid, tenantId: s.tenantId, appId: s.appId ?? "a1", ttlSeconds: ttl, ...(filter === undefined ? {} : { filter }) });

  it("a narrower ceiling drops a watched id (no more of its events; a watch of it is ignored), a wider one adds nothing", async () => {
    const s = await signer("Tn", "a1");
    const c = await TestClient.authed(n1.url, withFilter(s, { messageIds: ["n1", "n2", "n3"] }), { filter: { messageIds: ["n1", "n2"] } });
    c.sendJson({ type: "refresh", token: withFilter(s, { messageIds: ["n1", "n3"] }) });
    await c.waitFor((f) => f.type === "refresh_ok");
    c.sendJson({ type: "watch", messageIds: ["n2", "n3"] });
    expect(await c.waitFor((f) => f.type === "watch_ok")).toEqual({ type: "watch_ok", count: 2, ignored: 1 });
    // A refresh with a wider ceiling (or none) widens nothing back.
    c.sendJson({ type: "refresh", token: withFilter(s, undefined) });
    await c.until(() => c.frames.filter((f) => f.type === "refresh_ok").length === 2, 5000, "the second refresh_ok");
    c.sendJson({ type: "watch", messageIds: ["n2"] });
    await c.until(() => c.frames.filter((f) => f.type === "watch_ok").length === 2, 5000, "the second watch_ok");
    expect(c.frames.filter((f) => f.type === "watch_ok")[1]).toEqual({ type: "watch_ok", count: 2, ignored: 1 });
    for (const id of ["n2", "n1", "n3"]) await status("Tn", "a1", id);
    await c.waitForEvents(2);
    await status("Tn", "a1", "n2");
    await status("Tn", "a1", "n1");
    await c.waitForEvents(3);
    expect(c.events().map((e) => e.messageId)).toEqual(["n1", "n3", "n1"]);
    c.close();
  });

  it("a socket without a filter narrows to a refreshed ceiling at once (types)", async () => {
    const s = await signer("Tw", "a1");
    const c = await TestClient.authed(n1.url, withFilter(s, undefined));
    c.sendJson({ type: "refresh", token: withFilter(s, { types: ["sms_inbound"] }) });
    await c.waitFor((f) => f.type === "refresh_ok");
    await status("Tw", "a1", "st-1");
    await publishEvent(producer.nc, { type: "sms_inbound", messageId: "in-1", tenantId: "Tw", appId: "a1", from: "+15550000000", to: "+15550000001", body: "hi" });
    await c.waitForEvents(1);
    await publishEvent(producer.nc, { type: "sms_inbound", messageId: "in-2", tenantId: "Tw", appId: "a1", from: "+15550000000", to: "+15550000001", body: "hi" });
    await c.waitForEvents(2);
    expect(c.events().map((e) => e.messageId)).toEqual(["in-1", "in-2"]);
    c.close();
  });

  it("the same token again is answered (re-checked, not re-verified) up to REFRESH_BURST, then 4429; a revoked one is refused", async () => {
    const s = await signer("Tr", "a1");
    const t = token(s, { jti: "tr-1" });
    const c = await TestClient.authed(n2.url, t);
    for (let i = 0; i < 5; i++) c.sendJson({ type: "refresh", token: t });
    await c.until(() => c.frames.filter((f) => f.type === "refresh_ok").length === 5, 5000, "five refresh_ok");
    c.sendJson({ type: "refresh", token: t });
    expect((await c.waitClosed()).code).toBe(4429);
    expect(c.frames.at(-1)).toEqual({ type: "auth_error", error: "too many frames: slow down" });
    c.close();
  });
});

describe("SDK with getToken", () => {
  it("across a token expiry and a node restart: every event once, in order", async () => {
    const s = await signer("Tsdk", "a1");
    const port = await freePort();
    const env = { ...nats.nodeEnv(), PORT: String(port), DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "0" };
    let node = await startNodeProcess(nats.url, env);
    let minted = 0;
    const client = createClient({
      url: node.url,
      WebSocket: WebSocket as never,
      // Tokens of 3 s: the first expiry happens during the test (4419 -> a fresh token, resume).
      getToken: () => {
        minted++;
        return token(s, { ttl: 3 });
      },
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    const got: SmsEvent[] = [];
    const closeCodes: number[] = [];
    client.on("event", (e) => got.push(e));
    client.on("state", (change) => {
      if (change.closeCode !== undefined) closeCodes.push(change.closeCode);
    });
    await pollUntil(() => client.state === "live", 5000, "live");
    const published: string[] = [];
    let stop = false;
    const producing = (async () => {
      for (let i = 0; !stop; i++) {
        await status("Tsdk", "a1", `e${i}`);
        published.push(`e${i}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await pollUntil(() => minted >= 2, 10_000, "a second token (the first one expired or was refreshed)");
      node.child.kill("SIGKILL");
      await node.exited;
      node = await startNodeProcess(nats.url, env);
      await pollUntil(() => minted >= 3 && client.state === "live", 15_000, "back live on the restarted node");
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop = true;
      await producing;
    }
    await pollUntil(() => got.length >= published.length, 10_000, `${published.length} events (have ${got.length})`);
    client.close();
    node.child.kill("SIGTERM");
    const ids = got.map((e) => e.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(published);
    // It did cross both: a token expiry (4419, never fatal) and the node's death (1006).
    expect(closeCodes).toContain(4419);
    expect(closeCodes).toContain(1006);
    expect(client.state).toBe("closed");
  }, 60_000);
});

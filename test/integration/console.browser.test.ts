/**
 * The developer console in a real browser (headless Chromium) against real node processes and a
 * nats-server with production permissions: served with its headers, connects with an API key and
 * with a connection token, shows live events, a message's timeline and a conversation (bodies as
 * text, never HTML), shows every event exactly once across a node killed and restarted on the
 * same port (it resumes), and the seed document's own browser snippet runs unchanged in the page
 * with a token. Filters and "load earlier": console-filters.browser.test.ts.
 */
import type { KV } from "@nats-io/kv";
import { connect as tcpConnect, type AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { freePort } from "../../src/dev/embedded-nats.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner, type CreatedSigner } from "../../src/tokens/signer-admin.js";
import { feedEventIds, launchChromium, pageProblems, screenshot } from "../helpers/browser.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats } from "../helpers/harness.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";
import { startSteadyProducer } from "../helpers/steady-producer.js";

const TENANT = "Tcon";
const APP = "app";
const NODE_ENV = { DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "200", SHUTDOWN_TIMEOUT_MS: "5000", LOG_LEVEL: "warn", CONSOLE_ENABLED: "true" };

let nats: TestNats;
let producer: Producer;
let signerKv: KV;
let signer: CreatedSigner;
let appKey: string;
let browser: Browser;
let port: number;
let node: NodeProcess;
const nodes: NodeProcess[] = [];

async function startNode(): Promise<NodeProcess> {
  const started = await startNodeProcess(nats.url, { ...nats.nodeEnv(), ...NODE_ENV, PORT: String(port) });
  nodes.push(started);
  return started;
}

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  signerKv = await openBucket(producer.admin, "sms_token_signers");
  // Credentials first: a node process loads every key and signer before it is ready.
  appKey = await producer.key({ role: "app", tenantId: TENANT, appId: APP, label: "console test" });
  signer = await createSigner(signerKv, { tenantId: TENANT, appId: APP, label: "console test" });
  port = await freePort();
  [node, browser] = await Promise.all([startNode(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  for (const n of nodes) if (n.child.exitCode === null) n.child.kill("SIGKILL");
  await producer?.close();
  await nats?.stop();
});

function token(ttlSeconds = 600): string {
  return createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId: TENANT, appId: APP, ttlSeconds, sub: "console-test" });
}

async function openConsole(fragment: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const problems = pageProblems(page);
  await page.goto(`${node.http}/console#${fragment}`);
  await page.waitForSelector('#state[data-state="live"]', { timeout: 15_000 });
  return { page, problems };
}

const at = (ms: number): string => new Date(Date.parse("2026-03-01T10:00:00.000Z") + ms).toISOString();

const status = (messageId: string, s: string, timestamp: string, extra: { error?: string } = {}) =>
  publishEvent(producer.nc, { type: "sms_status", messageId, tenantId: TENANT, appId: APP, status: s, timestamp, ...extra });

const inbound = (messageId: string, from: string, body: string, timestamp: string) =>
  publishEvent(producer.nc, { type: "sms_inbound", messageId, from, to: "+15551234567", body, tenantId: TENANT, appId: APP, timestamp });

/** A raw HTTP/1.1 request, so the path reaches the server exactly as written (fetch normalizes). */
function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1", () => socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("end", () => resolve(text.split("\r\n")[0] ?? ""));
    socket.on("error", reject);
  });
}

describe("developer console", () => {
  it("is served from the node's own files with its content types, CSP and ETag; nothing else is", async () => {
    const page = await fetch(`${node.http}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    // Sockets and fetches to this origin only (W-3): no ws:, wss: or other host.
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/ws:|wss:/);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script: the CSP allows none
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    const app = await fetch(`${node.http}/console/app.js`);
    expect(app.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await app.text()).toContain('from "./sms-ws-client.js"');
    const sdk = Buffer.from(await (await fetch(`${node.http}/console/sms-ws-client.js`)).arrayBuffer());
    expect(sdk.equals(readFileSync("packages/client/dist/sms-ws-client.js"))).toBe(true);
    const etag = app.headers.get("etag") as string;
    expect((await fetch(`${node.http}/console/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    for (const path of ["/console/../package.json", "/console/..%2f..%2fpackage.json", "/console/%2e%2e/node.js", "/console/index.ts"]) {
      expect(await rawGet(path), path).toMatch(/^HTTP\/1\.1 404/);
    }
    // Off by default in `serve`.
    const plain = await startTestNode(nats);
    try {
      expect((await fetch(`${plain.http}/console`)).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });

  it("with an API key: live events, a message's timeline with the time between statuses, a conversation as text", async () => {
    const { page, problems } = await openConsole(`key=${encodeURIComponent(appKey)}`);
    await status("msg_tl", "queued", at(0));
    await status("msg_tl", "sending", at(300));
    await status("msg_tl", "failed", at(1500), { error: "RingCentral not connected for this tenant" });
    await inbound("msg_in1", "+15550001111", "Yes, I confirm", at(2000));
    await inbound("msg_in2", "+15550002222", "Who is this?", at(2100));
    const hostile = `<img src=x onerror="window.__pwned=1">STOP`;
    await inbound("msg_in3", "+15550001111", hostile, at(2500));
    await page.waitForFunction(() => document.querySelectorAll("#feed-body tr").length === 6, null, { timeout: 10_000 });
    expect(await page.textContent("#event-count")).toBe("6 events");

    await page.locator('#feed-body tr[data-message-id="msg_tl"] button').first().click();
    await expect.poll(() => page.$$eval("#timeline li", (items) => items.map((i) => i.textContent))).toEqual([
      "queued 10:00:00.000",
      "sending 10:00:00.300 +300 ms",
      "failed 10:00:01.500 +1.2 sRingCentral not connected for this tenant",
    ]);
    expect(await page.textContent("#timeline-summary")).toBe("Message msg_tl: queued → failed in 1.5 s, 3 events.");
    // The click moved focus to the timeline (keyboard and screen-reader users land there).
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("timeline-heading");

    await page.locator('#numbers button[data-number="+15550001111"]').click();
    await expect.poll(() => page.$$eval("#conversation .body", (items) => items.map((i) => i.textContent))).toEqual(["Yes, I confirm", hostile]);
    expect(await page.textContent('#numbers button[data-number="+15550001111"]')).toBe("+15550001111 (2)");
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, "console-feed-timeline-conversation");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("with a connection token (minted by the tenant's signer): connects and shows events; the state is announced", async () => {
    const { page, problems } = await openConsole(`token=${token()}`);
    // The token was read from the fragment, then dropped from the address bar and the history entry.
    expect(await page.evaluate(() => location.hash)).toBe("");
    expect(page.url()).toBe(`${node.http}/console`);
    expect(await page.getAttribute("#state", "aria-live")).toBe("polite");
    expect(await page.getAttribute("#state", "role")).toBe("status");
    const { event } = await status("msg_tok", "delivered", at(0));
    await page.waitForSelector(`#feed-body tr[data-event-id="${event.eventId}"]`, { timeout: 10_000 });
    expect(await page.textContent(`#feed-body tr[data-event-id="${event.eventId}"]`)).toContain("delivered");
    // Disconnect: the state says closed.
    await page.click("#disconnect");
    await page.waitForSelector('#state[data-state="closed"]');
    expect(problems).toEqual([]);
    await page.close();
  });

  it("ignores a #url= of another origin (the key goes to its own node), and the CSP refuses a socket to one", async () => {
    const foreign = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => foreign.once("listening", () => resolve()));
    const received: string[] = [];
    foreign.on("connection", (ws) => ws.on("message", (data) => received.push(String(data))));
    try {
      const foreignUrl = `ws://127.0.0.1:${(foreign.address() as AddressInfo).port}/ws`;
      const { page, problems } = await openConsole(`url=${encodeURIComponent(foreignUrl)}&key=${encodeURIComponent(appKey)}`);
      expect(await page.inputValue("#url")).toBe(`ws://127.0.0.1:${port}/ws`);
      expect(await page.evaluate(() => location.hash)).toBe("");
      expect(problems).toEqual([]);
      // Even a socket opened by hand in the page cannot reach the other origin.
      const outcome = await page.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            try {
              const ws = new WebSocket(url);
              ws.onopen = () => resolve("open");
              ws.onerror = () => resolve("error");
            } catch (error) {
              resolve((error as Error).name);
            }
          }),
        foreignUrl,
      );
      expect(outcome).not.toBe("open");
      expect(foreign.clients.size).toBe(0);
      expect(received).toEqual([]);
      await page.close();
    } finally {
      await new Promise<void>((resolve) => foreign.close(() => resolve()));
    }
  });

  it("keyboard only: the form, the state, the filter and the feed are reachable in order; Enter connects", async () => {
    const page = await browser.newPage();
    await page.goto(`${node.http}/console`);
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.id || (document.activeElement as HTMLInputElement | null)?.name || document.activeElement?.tagName || ""));
    }
    expect(order.slice(0, 5)).toEqual(["A", "url", "kind-token", "credential", "connect"]);
    await page.focus("#credential");
    await page.keyboard.type(appKey);
    await page.keyboard.press("Enter");
    await page.waitForSelector('#state[data-state="live"]', { timeout: 15_000 });
    // Every control has an accessible name.
    const unlabeled = await page.$$eval("input, button, canvas", (els) =>
      els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute("aria-label") && !(e.textContent ?? "").trim()).map((e) => e.outerHTML),
    );
    expect(unlabeled).toEqual([]);
    await page.close();
  });

  it("shows every event exactly once across a node killed and restarted on the same port (it resumes)", async () => {
    const { page, problems } = await openConsole(`token=${token()}`);
    const run = startSteadyProducer(producer.nc, { prefix: "restart", scopes: 1, rate: 80, tenantOf: () => TENANT });
    await page.waitForFunction(() => document.querySelectorAll("#feed-body tr").length >= 40, null, { timeout: 15_000 });
    node.child.kill("SIGKILL");
    await node.exited;
    await page.waitForSelector('#state[data-state="reconnecting"]', { timeout: 10_000 });
    await pollUntil(() => run.count >= 200, 15_000, "events published while the node is down");
    node = await startNode();
    await page.waitForSelector('#state[data-state="live"]', { timeout: 20_000 });
    await pollUntil(() => run.count >= 320, 15_000, "events published after the restart");
    await run.stop();
    const published = run.published[0] as string[];
    // The newest event arrives live and last: once it is shown, everything before it must be.
    await page.waitForSelector(`#feed-body tr[data-event-id="${published[published.length - 1]}"]`, { timeout: 20_000 });
    const shown = await feedEventIds(page);
    const twice = shown.filter((id, i) => shown.indexOf(id) !== i);
    const missing = published.filter((id) => !shown.includes(id));
    expect({ twice, missing }).toEqual({ twice: [], missing: [] });
    // Only this run's events (after the earlier tests' ones), newest first: reversed publish order.
    expect(shown.filter((id) => id.startsWith("restart-")).reverse()).toEqual(published);
    expect(await page.getAttribute("#state", "data-state")).toBe("live");
    expect(await page.getAttribute("#state", "data-resume")).toBe("resumed");
    expect(await page.textContent("#state")).toMatch(/resumed after seq \d+ \(\d+ replayed\)/);
    await screenshot(page, "console-after-restart");
    // The browser logs the refused connections while the node was down; nothing else.
    expect(problems.filter((p) => !p.includes("WebSocket connection to"))).toEqual([]);
    await page.close();
  });

  it("runs the seed document's browser snippet unchanged, with a token in place of the API key", async () => {
    const page = await browser.newPage();
    await page.goto(`${node.http}/console`);
    const logged: unknown[] = [];
    page.on("console", (message) => {
      if (!message.text().startsWith("Event:")) return;
      message.args()[1]?.jsonValue().then(
        (value) => logged.push(value),
        () => {}, // the page closed first
      );
    });
    // The seed's "Reconnection" example, verbatim but for its endpoint and key placeholders.
    const seed = `let retryDelay = 1000;const MAX_DELAY = 30000;function connect() {const ws = new WebSocket("wss://smsgateway-api.onrender.com/ws");ws.onopen = () => {retryDelay = 1000;ws.send(JSON.stringify({ type: "auth", apiKey: "YOUR_API_KEY" }));};ws.onmessage = (event) => {const data = JSON.parse(event.data);if (data.type === "ping") return;if (data.type === "auth_ok") return;// Handle sms_status, sms_inbound events
console.log("Event:", data);};ws.onclose = () => {setTimeout(() => {retryDelay = Math.min(retryDelay * 2, MAX_DELAY);connect();}, retryDelay);};}connect();`;
    const script = seed.replace("wss://smsgateway-api.onrender.com/ws", `ws://127.0.0.1:${port}/ws`).replace("YOUR_API_KEY", token());
    await page.evaluate(script);
    // The seed's socket sends no further frames once authenticated; publish until it logs one
    // (the first may be published before its auth_ok).
    await pollUntil(
      async () => {
        await status("msg_seed", "sent", new Date().toISOString());
        return logged.length > 0;
      },
      10_000,
      "the seed snippet logging an event",
      200,
    );
    expect(logged[0]).toMatchObject({ type: "sms_status", messageId: "msg_seed", tenantId: TENANT, appId: APP, status: "sent" });
    await page.close();
  });
});

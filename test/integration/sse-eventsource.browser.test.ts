/**
 * GET /v1/events/stream read by a real browser EventSource (Debian's chromium): live events, then
 * the node SIGKILLed and restarted on the same port while events are published; the browser
 * reconnects by itself with Last-Event-ID and the stream resumes: every event once, in order.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { freePort } from "../../src/dev/embedded-nats.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner } from "../../src/tokens/signer-admin.js";
import { launchChromium, pageProblems } from "../helpers/browser.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let producer: Producer;
let browser: Browser;
let node: NodeProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  browser = await launchChromium();
});

afterAll(async () => {
  node?.child.kill("SIGKILL");
  await browser?.close();
  await producer?.close();
  await nats?.stop();
});

describe("SSE in a browser", () => {
  it("an EventSource gets live events, and after a node SIGKILL resumes with Last-Event-ID: every event once, in order", async () => {
    const signer = await createSigner(await openBucket(producer.admin, "sms_token_signers"), { tenantId: "Tes", appId: "a1" });
    const token = createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId: "Tes", appId: "a1", ttlSeconds: 600 });
    const port = await freePort();
    const env = { ...nats.nodeEnv(), PORT: String(port), CONSOLE_ENABLED: "true", DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "0" };
    node = await startNodeProcess(nats.url, env);
    const page = await browser.newPage();
    const problems = pageProblems(page);
    // Same origin as the node (its console page), so the page's CSP allows the stream.
    await page.goto(`${node.http}/console`);
    await page.evaluate((t) => {
      const w = window as unknown as { got: { id: string; messageId: string }[]; opens: number };
      w.got = [];
      w.opens = 0;
      const es = new EventSource(`/v1/events/stream?token=${encodeURIComponent(t)}`);
      es.onopen = () => void w.opens++;
      es.addEventListener("sms_status", (e) => {
        const m = e as MessageEvent<string>;
        w.got.push({ id: m.lastEventId, messageId: (JSON.parse(m.data) as { messageId: string }).messageId });
      });
    }, token);
    const got = (): Promise<{ id: string; messageId: string }[]> => page.evaluate(() => (window as unknown as { got: { id: string; messageId: string }[] }).got);
    const opens = (): Promise<number> => page.evaluate(() => (window as unknown as { opens: number }).opens);
    await pollUntil(async () => (await opens()) === 1, 10_000, "the stream open");
    const publish = (i: number) => publishEvent(producer.nc, { type: "sms_status", messageId: `e${i}`, tenantId: "Tes", appId: "a1", status: "sent" });
    for (let i = 0; i < 5; i++) await publish(i);
    await pollUntil(async () => (await got()).length === 5, 10_000, "5 live events");

    node.child.kill("SIGKILL");
    await node.exited;
    for (let i = 5; i < 10; i++) await publish(i); // stored while no node serves the browser
    node = await startNodeProcess(nats.url, env);
    await pollUntil(async () => (await opens()) === 2, 20_000, "the browser's own reconnect");
    for (let i = 10; i < 12; i++) await publish(i);
    await pollUntil(async () => (await got()).length >= 12, 20_000, "12 events");

    const events = await got();
    expect(events.map((e) => e.messageId)).toEqual(Array.from({ length: 12 }, (_, i) => `e${i}`));
    // ids are <epoch>:<seq>, increasing: the resume point the browser sent back.
    const seqs = events.map((e) => Number(e.id.slice(e.id.lastIndexOf(":") + 1)));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(12);
    // The kill itself shows as a cut response and refused reconnects; nothing else may fail.
    const expected = /ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_CONNECTION_REFUSED/;
    expect(problems.filter((p) => !expected.test(p))).toEqual([]);
    await page.close();
  }, 90_000);
});

/**
 * Issue 19, deliverable 4: one tenant's flood cannot raise another tenant's p99 live latency by
 * more than 10 ms. A real `sms-ws serve` process on a permissioned nats-server; tenant B's
 * latency (publish -> receive, this process's clock) is measured over a socket and over an SSE
 * stream, first quiet, then while tenant A floods: (a) watch/unwatch frames, (b) refresh frames,
 * (c) many SSE streams that never read, fed a burst of large events. Each flood is bounded in
 * time, frames and connections; each flooding socket is refused with 4429.
 */
import type { KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner, type CreatedSigner } from "../../src/tokens/signer-admin.js";
import { TestClient } from "../helpers/client.js";
import { idleSseStreams, probeLatency, quantile, socketFlood, timedSocket, timedSseStream, type Arrivals, type FloodResult, type ProbeWindow } from "../helpers/floods.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { scrapeMetric, startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { freePort } from "../../src/dev/embedded-nats.js";

const BOUND_MS = 10;
/** Windows of 40 events 5 ms apart (200 ms); the first 3 of each are not counted. */
const PROBE = { intervalMs: 5, window: 40, settle: 3 };
/** The flood probe: 32 windows, 16 quiet and 16 flood; each baseline probe: 8 windows. */
const FLOOD_EVENTS = 32 * PROBE.window;
const BASELINE_EVENTS = 8 * PROBE.window;
const PROBE_MS = (FLOOD_EVENTS + 2 * BASELINE_EVENTS) * PROBE.intervalMs;

let nats: TestNats;
let producer: Producer;
let node: NodeProcess;
let metricsPort: number;
let keyA: string;
let keyB: string;
let signerA: CreatedSigner;
const run = `f${Date.now().toString(36)}`;
const tenantA = `${run}A`;
const tenantB = `${run}B`;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  const signers: KV = await openBucket(producer.admin, "sms_token_signers");
  signerA = await createSigner(signers, { tenantId: tenantA, appId: "a" });
  keyA = await producer.key({ role: "app", tenantId: tenantA, appId: "a" });
  keyB = await producer.key({ role: "app", tenantId: tenantB, appId: "b" });
  // Keys and signers exist before the node starts: it loads them before it is ready.
  // FLOOD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the node process.
  metricsPort = await freePort();
  node = await startNodeProcess(nats.url, { ...nats.nodeEnv(), METRICS_PORT: String(metricsPort), DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "0", SHUTDOWN_TIMEOUT_MS: "5000" }, { nodeArgs: (process.env.FLOOD_NODE_ARGS ?? "").split(" ").filter((a) => a !== "") });
}, 60_000);

afterAll(async () => {
  node?.child.kill("SIGTERM");
  await node?.exited;
  await producer?.close();
  await nats?.stop();
});

/** Tenant B's receivers: one socket, one SSE stream. */
async function tenantBReceivers(): Promise<{ receivers: Arrivals[]; close(): void }> {
  const socket = await TestClient.authed(node.url, keyB);
  const sse = await timedSseStream(`${node.http}/v1/events/stream`, { authorization: `Bearer ${keyB}` });
  return { receivers: [timedSocket(socket.ws), sse.arrivals], close: () => (socket.close(), sse.close()) };
}

/** Per receiver (socket, SSE): the flood's effect on B's latency, and the figures behind it. */
interface Measured {
  /** Median p99 of the flood windows minus median p99 of the baseline's windows, ms. */
  raise: number[];
  summary: string;
}

const windowP99 = (windows: readonly ProbeWindow[], r: number): number[] => windows.map((w) => quantile(w.latencies[r] as number[], 0.99));

/**
 * B's latency with no flood at all (the baseline: 8 windows of 200 ms before the flood and 8
 * after, so a drift of the machine's load weighs on both sides), and in between in 32 windows
 * that alternate between quiet and flood (`setFlood` turns the flood on and off). Asserted: the
 * median over the 16 flood windows of their p99 is at most BOUND_MS above the median over the
 * 16 baseline windows of theirs. Per-window p99s, compared by their medians, keep a stall of this
 * shared machine (another process holding both cores for 100 ms or more, which lands in one or
 * two windows of either kind) from deciding the result; the clean baseline keeps a backlog the
 * flood leaves behind (which would also slow the quiet windows in between) from hiding it. The
 * p99 over all samples of each kind is logged beside it.
 */
async function measure(label: string, setFlood: (on: boolean) => void): Promise<Measured> {
  const b = await tenantBReceivers();
  try {
    const probe = (prefix: string, count: number, phase: (on: boolean) => void) => probeLatency(producer.nc, { tenantId: tenantB, appId: "b", prefix, count, ...PROBE }, b.receivers, phase);
    const before = await probe(`${label}-before`, BASELINE_EVENTS, () => {});
    // The node's own event-loop delay over the flood probe (prom-client resets it at each scrape).
    await scrapeMetric(metricsPort, "nodejs_eventloop_lag_max_seconds");
    const windows = await probe(label, FLOOD_EVENTS, setFlood);
    const loopMax = ((await scrapeMetric(metricsPort, "nodejs_eventloop_lag_max_seconds")) ?? NaN) * 1000;
    // Flood-free again, once whatever the flood left behind is gone (each window of it counts).
    const after = await probe(`${label}-after`, BASELINE_EVENTS, () => {});
    const baseline = [...before, ...after];
    const flood = windows.filter((w) => w.flood);
    const receivers = [0, 1];
    const raise = receivers.map((r) => quantile(windowP99(flood, r), 0.5) - quantile(windowP99(baseline, r), 0.5));
    const all = (ws: readonly ProbeWindow[], r: number): number[] => ws.flatMap((w) => w.latencies[r] as number[]);
    const fig = (l: number[]): string => `p50 ${quantile(l, 0.5)} p99 ${quantile(l, 0.99)} max ${quantile(l, 1)}`;
    const summary = receivers
      .map((r) => `${r === 0 ? "socket" : "sse"}: baseline ${fig(all(baseline, r))}, flood windows ${fig(all(flood, r))}, quiet windows between ${fig(all(windows.filter((w) => !w.flood), r))}; median window p99 baseline ${quantile(windowP99(baseline, r), 0.5)}, flood ${quantile(windowP99(flood, r), 0.5)}: raise ${raise[r]}`)
      .join("; ");
    console.log(`${label}: B latency (ms) ${summary}; node event-loop max delay ${loopMax.toFixed(1)} ms`);
    return { raise, summary };
  } finally {
    b.close();
  }
}

function expectWithinBound(m: Measured): void {
  m.raise.forEach((raise, i) => expect(raise, `receiver ${i}: ${m.summary}`).toBeLessThanOrEqual(BOUND_MS));
}

const floodLimits = { durationMs: PROBE_MS + 10_000, maxFrames: 200_000, maxConnections: 100 };

function expectRefused(flood: FloodResult): void {
  expect(flood.codes.length).toBeGreaterThan(0);
  // One flooding socket per flood window, each refused with 4429.
  expect(flood.connections).toBeGreaterThanOrEqual(FLOOD_EVENTS / PROBE.window / 2 - 1);
  expect(flood.codes.every((c) => c === 4429)).toBe(true);
}

describe("one tenant's flood and another tenant's latency", () => {
  it("(a) a watch/unwatch flood (100 ids x 4 statuses x 2 feeds a frame) from one socket", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const frames = [JSON.stringify({ type: "watch", messageIds: ids }), JSON.stringify({ type: "unwatch", messageIds: ids })];
    const gate = { on: false, window: 0 };
    const flooding = socketFlood(node.url, { apiKey: keyA, filter: { messageIds: [], statuses: ["sent", "delivered", "failed", "queued"] } }, (i) => frames[i % 2] as string, floodLimits, gate);
    const m = await measure("watch", (on) => ((gate.on = on), on && gate.window++));
    const flood = await flooding;
    console.log(`watch flood: ${JSON.stringify({ ...flood, codes: flood?.codes.length })}`);
    expectRefused(flood);
    expectWithinBound(m);
  }, 90_000);

  it("(b) a refresh flood (one valid token, again and again) from one token socket", async () => {
    const token = createConnectionToken({ privateKey: signerA.privateKeyPem, kid: signerA.kid, tenantId: tenantA, appId: "a", ttlSeconds: 600 });
    const frame = JSON.stringify({ type: "refresh", token });
    const gate = { on: false, window: 0 };
    const flooding = socketFlood(node.url, { token }, () => frame, floodLimits, gate);
    const m = await measure("refresh", (on) => ((gate.on = on), on && gate.window++));
    const flood = await flooding;
    console.log(`refresh flood: ${JSON.stringify({ ...flood, codes: flood?.codes.length })}`);
    expectRefused(flood);
    expectWithinBound(m);
  }, 90_000);

  it("(c) 300 SSE streams of one tenant that never read, fed 4 KB events", async () => {
    // The same publishing load in every window: 4 KB events, 10 at a time, 100 a window (the
    // issue's reproduction: 800 x 4 KB events for A's 300 streams). In flood windows they are
    // tenant A's, and A has SSE streams that never read (300 opened at the first flood window);
    // otherwise they are tenant C's, which
    // nothing on the node follows. So the phases differ only by A's SSE fan-out.
    const body = "x".repeat(4000);
    let flood = false;
    let window = 0;
    let published = 0;
    let publishing = true;
    let opened = 0;
    const batches: Promise<{ close(): void }>[] = [];
    const load = (async () => {
      // Bounded: 100 events a window, at most 6000 in all.
      let sentThisWindow = 0;
      let current = window;
      while (publishing && published < 6000) {
        if (current !== window) [current, sentThisWindow] = [window, 0];
        if (sentThisWindow >= 100) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const tenantId = flood ? tenantA : `${run}C`;
        sentThisWindow += 10;
        await Promise.all(
          Array.from({ length: 10 }, () =>
            publishEvent(producer.nc, { type: "sms_inbound", messageId: `in-${published++}`, tenantId, appId: "a", from: "+15550000000", to: "+15550000001", body }),
          ),
        );
      }
    })();
    const setFlood = (on: boolean): void => {
      if (on && opened === 0) {
        // Once, at the first flood window (the reproduction): 300 streams, of which the
        // node holds MAX_SSE_STREAMS_PER_TENANT until each is ended as a slow consumer.
        opened = 300;
        batches.push(idleSseStreams(node.port, "/v1/events/stream", { authorization: `Bearer ${keyA}` }, opened));
      }
      flood = on;
      window++;
    };
    try {
      const m = await measure("sse", setFlood);
      publishing = false;
      await load;
      const slow = await scrapeMetric(metricsPort, "smsws_slow_consumer_closes_total");
      console.log(`sse flood: ${published} events of 4 KB in all; ${opened} idle streams of A opened, ${slow} closed as slow consumers`);
      expectWithinBound(m);
    } finally {
      publishing = false;
      for (const b of await Promise.all(batches)) b.close();
    }
  }, 90_000);
});


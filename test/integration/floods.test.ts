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
import { idleSseStreams, probeLatency, quantile, socketFlood, timedSocket, timedSseStream, type Arrivals, type FloodResult } from "../helpers/floods.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";

const BOUND_MS = 10;
/** 16 windows of 40 events, 5 ms apart: 8 quiet and 8 flood windows, 296 counted samples each. */
const PROBE = { count: 640, intervalMs: 5, window: 40, settle: 3 };
const PROBE_MS = PROBE.count * PROBE.intervalMs;

let nats: TestNats;
let producer: Producer;
let node: NodeProcess;
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
  node = await startNodeProcess(nats.url, { ...nats.nodeEnv(), DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "0", SHUTDOWN_TIMEOUT_MS: "5000" }, (process.env.FLOOD_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""));
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

interface Measured {
  quiet: number[];
  flood: number[];
}

/**
 * B's p99 per receiver in quiet and in flood windows, alternating (probeLatency), so both see the
 * same machine; `setFlood` turns the flood on and off at each window.
 */
async function measure(label: string, setFlood: (on: boolean) => void): Promise<Measured> {
  const b = await tenantBReceivers();
  try {
    const latencies = await probeLatency(producer.nc, { tenantId: tenantB, appId: "b", prefix: label, ...PROBE }, b.receivers, setFlood);
    const summary = (l: number[]): string => `p50 ${quantile(l, 0.5)} p99 ${quantile(l, 0.99)} max ${quantile(l, 1)} (n ${l.length})`;
    console.log(`${label}: B latency ms, socket | sse: quiet ${latencies.quiet.map(summary).join(" | ")}; flood ${latencies.flood.map(summary).join(" | ")}`);
    return { quiet: latencies.quiet.map((l) => quantile(l, 0.99)), flood: latencies.flood.map((l) => quantile(l, 0.99)) };
  } finally {
    b.close();
  }
}

function expectWithinBound(m: Measured): void {
  m.flood.forEach((p99, i) => expect(p99, `receiver ${i}: ${p99} ms vs ${m.quiet[i]} ms quiet`).toBeLessThanOrEqual((m.quiet[i] as number) + BOUND_MS));
}

const floodLimits = { durationMs: PROBE_MS + 500, maxFrames: 200_000, maxConnections: 1000 };

function expectRefused(flood: FloodResult): void {
  expect(flood.codes.length).toBeGreaterThan(0);
  // Every connection but the last (ended by the flood's own deadline) was refused with 4429.
  for (const code of flood.codes.slice(0, -1)) expect(code).toBe(4429);
  expect(flood.codes[0]).toBe(4429);
}

describe("one tenant's flood and another tenant's latency", () => {
  it("(a) a watch/unwatch flood (100 ids x 4 statuses x 2 feeds a frame) from one socket", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const frames = [JSON.stringify({ type: "watch", messageIds: ids }), JSON.stringify({ type: "unwatch", messageIds: ids })];
    const gate = { on: false };
    const flooding = socketFlood(node.url, { apiKey: keyA, filter: { messageIds: [], statuses: ["sent", "delivered", "failed", "queued"] } }, (i) => frames[i % 2] as string, floodLimits, gate);
    const m = await measure("watch", (on) => (gate.on = on));
    const flood = await flooding;
    console.log(`watch flood: ${JSON.stringify({ ...flood, codes: flood?.codes.length })}`);
    expectRefused(flood);
    expectWithinBound(m);
  }, 60_000);

  it("(b) a refresh flood (one valid token, again and again) from one token socket", async () => {
    const token = createConnectionToken({ privateKey: signerA.privateKeyPem, kid: signerA.kid, tenantId: tenantA, appId: "a", ttlSeconds: 600 });
    const frame = JSON.stringify({ type: "refresh", token });
    const gate = { on: false };
    const flooding = socketFlood(node.url, { token }, () => frame, floodLimits, gate);
    const m = await measure("refresh", (on) => (gate.on = on));
    const flood = await flooding;
    console.log(`refresh flood: ${JSON.stringify({ ...flood, codes: flood?.codes.length })}`);
    expectRefused(flood);
    expectWithinBound(m);
  }, 60_000);

  it("(c) 300 SSE streams of one tenant that never read, fed 4 KB events", async () => {
    // The same publishing load in both windows: 4 KB events, 20 in flight. In flood windows they
    // are tenant A's, whose 300 SSE streams never read; in quiet windows tenant C's, which
    // nothing on the node follows. So the windows differ only by A's SSE fan-out.
    const streams = await idleSseStreams(node.port, "/v1/events/stream", { authorization: `Bearer ${keyA}` }, Number(process.env.FLOOD_SSE_STREAMS ?? 300));
    const body = "x".repeat(4000);
    let flood = false;
    let published = 0;
    let publishing = true;
    const load = (async () => {
      // Bounded: at most 6000 events.
      while (publishing && published < 6000) {
        const tenantId = flood ? tenantA : `${run}C`;
        await Promise.all(
          Array.from({ length: 20 }, () =>
            publishEvent(producer.nc, { type: "sms_inbound", messageId: `in-${published++}`, tenantId, appId: "a", from: "+15550000000", to: "+15550000001", body }),
          ),
        );
      }
    })();
    try {
      const m = await measure("sse", (on) => (flood = on));
      publishing = false;
      await load;
      console.log(`sse flood: ${published} events of 4 KB in all; 300 idle streams of A`);
      expectWithinBound(m);
    } finally {
      publishing = false;
      streams.close();
    }
  }, 60_000);
});


/**
 * Network-level faults where nothing is closed cleanly, so only heartbeats can tell:
 *   1. A path between a gateway node and NATS that stalls (a proxy stops moving bytes, both TCP
 *      connections stay open) for longer than the node's NATS ping timeout (2 s x 2: noticed within 10 s): the node
 *      must notice on its own, turn unready, reconnect when the path returns and repair the gap.
 *   2. The same path stalling for a few seconds only (shorter than the ping timeout): the node
 *      must ride it out without a reconnect, and the delayed events still arrive exactly once.
 *   3. A gateway node frozen with SIGSTOP: its clients' heartbeat watchdog (PING_INTERVAL_MS=500
 *      on the node, pingIntervalMs=500 in the SDK) drops the silent sockets, they reconnect through
 *      the load balancer to the other node and resume; after SIGCONT the frozen node recovers
 *      (ready again, serving new clients) and does not crash.
 * Two real node processes behind a round-robin TCP "load balancer", 60 SDK clients over 6 app
 * scopes, a steady producer publishing with stable eventIds retried until acknowledged.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type SmsEvent, type SmsWsClient } from "../../src/client/index.js";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { startProducer, type Producer } from "../helpers/harness.js";
import { readyzOf, scrapeMetric, startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { pollUntil } from "../helpers/poll.js";
import { outOfOrder as outOfOrderClients, startSteadyProducer, tally as tallyClients } from "../helpers/steady-producer.js";
import { recordFaults } from "./report.js";
import { NATS_PING_INTERVAL_MS } from "../../src/bus/nats-connection.js";

const SCOPES = 6;
const CLIENTS = 60;
const RATE = 100;
const HEARTBEAT_MS = 500;

function waitFor(what: string, timeoutMs: number, condition: () => boolean | Promise<boolean>, everyMs = 50): Promise<void> {
  return pollUntil(condition, timeoutMs, what, everyMs);
}

// ---- a proxy that can stall ---------------------------------------------------------------

interface StallProxy {
  readonly port: number;
  /** Stop moving bytes both ways; connections (open and new) stay open, nothing is closed. */
  stall(): void;
  /** Move bytes again; closes that happened meanwhile are passed on now. */
  unstall(): void;
  close(): Promise<void>;
}

/**
 * A one-backend TCP proxy whose "stall" pauses reading on both sides of every connection: what
 * the peers write piles up in kernel buffers, like a network path that silently drops traffic
 * (a half-dead NAT, a partition). tcp-proxy.ts only cuts and blocks, which peers notice at once.
 */
async function startStallProxy(targetPort: number): Promise<StallProxy> {
  let stalled = false;
  interface Pair {
    a: Socket;
    b: Socket;
    closing: boolean;
  }
  const pairs = new Set<Pair>();
  const server: Server = createServer((a) => {
    const b = connect(targetPort, "127.0.0.1");
    const pair: Pair = { a, b, closing: false };
    pairs.add(pair);
    const end = (): void => {
      if (stalled) {
        pair.closing = true; // a stalled path carries no FIN either
        return;
      }
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.on("data", (chunk) => {
        if (!to.write(chunk)) {
          from.pause();
          to.once("drain", () => {
            if (!stalled) from.resume();
          });
        }
      });
      from.on("error", end);
      from.on("close", end);
      from.on("end", end);
      if (stalled) from.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    stall() {
      stalled = true;
      for (const p of pairs) {
        p.a.pause();
        p.b.pause();
      }
    },
    unstall() {
      stalled = false;
      for (const p of [...pairs]) {
        if (p.closing) {
          pairs.delete(p);
          p.a.destroy();
          p.b.destroy();
        } else {
          p.a.resume();
          p.b.resume();
        }
      }
    },
    close() {
      stalled = false;
      for (const p of pairs) {
        p.a.destroy();
        p.b.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- nodes, clients, producer -------------------------------------------------------------

interface GwNode {
  name: string;
  proc: NodeProcess;
  metricsPort: number;
}

let nats: EmbeddedNats;
let producer: Producer;
let natsPath: StallProxy;
let lb: TcpProxy;
let gwA: GwNode; // reaches NATS through the stall proxy
let gwB: GwNode; // reaches NATS directly
const nodes: GwNode[] = [];
const keys: string[] = [];

interface Tracked {
  scope: number;
  client: SmsWsClient;
  events: SmsEvent[];
  heartbeatDrops: number;
}
const tracked: Tracked[] = [];

async function startGw(name: string, natsUrl: string): Promise<GwNode> {
  const metricsPort = await freePort();
  const proc = await startNodeProcess(natsUrl, {
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: "127.0.0.1",
    PING_INTERVAL_MS: String(HEARTBEAT_MS),
    LOG_LEVEL: "warn",
    DRAIN_DELAY_MS: "0",
    DRAIN_WINDOW_MS: "500",
  });
  const node = { name, proc, metricsPort };
  nodes.push(node);
  return node;
}

function metric(node: GwNode, name: string): Promise<number | undefined> {
  return scrapeMetric(node.metricsPort, name);
}

function readyz(node: GwNode): Promise<{ status: number; reasons: string[] }> {
  return readyzOf(node.proc.http);
}

function sdk(url: string, scope: number): Tracked {
  const client = createClient({
    url,
    apiKey: keys[scope] as string,
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    pingIntervalMs: HEARTBEAT_MS,
  });
  const t: Tracked = { scope, client, events: [], heartbeatDrops: 0 };
  client.on("event", (e) => t.events.push(e));
  client.on("state", (s) => {
    if (s.state === "reconnecting" && s.closeReason === "heartbeat timeout") t.heartbeatDrops++;
  });
  return t;
}

function tally(prefix: string, published: string[][], who: Tracked[] = tracked) {
  return tallyClients(who, prefix, published);
}

function outOfOrder(who: Tracked[] = tracked): number {
  return outOfOrderClients(who);
}

function startPublishing(prefix: string) {
  return startSteadyProducer(producer.nc, { prefix, scopes: SCOPES, rate: RATE, tenantOf: (scope) => `S${scope}` });
}

async function allDelivered(prefix: string, published: string[][], who: Tracked[] = tracked): Promise<void> {
  const want = who.reduce((n, t) => n + (published[t.scope] as string[]).length, 0);
  await waitFor(`every event of ${prefix} delivered`, 60_000, () => tally(prefix, published, who).delivered >= want, 100);
}

function crashes(): number {
  return nodes.filter((n) => n.proc.child.exitCode !== null || n.proc.child.signalCode !== null).length;
}

beforeAll(async () => {
  nats = await startNatsServer();
  producer = await startProducer(nats);
  // Keys first: a node process is ready only once its first key load is complete.
  for (let i = 0; i < SCOPES; i++) keys.push(await producer.key({ role: "app", tenantId: `S${i}`, appId: "app" }));
  natsPath = await startStallProxy(nats.port);
  gwA = await startGw("gwA", `nats://127.0.0.1:${natsPath.port}`);
  gwB = await startGw("gwB", nats.url);
  lb = await startTcpProxy([gwA.proc.port, gwB.proc.port]);
  for (let i = 0; i < CLIENTS; i++) tracked.push(sdk(`ws://127.0.0.1:${lb.port}/ws`, i % SCOPES));
  await waitFor("all clients live", 20_000, () => tracked.every((t) => t.client.state === "live"));
  // Both nodes serve clients (the round-robin spreads them).
  expect(await metric(gwA, "smsws_connections")).toBeGreaterThan(0);
  expect(await metric(gwB, "smsws_connections")).toBeGreaterThan(0);
});

afterAll(async () => {
  for (const t of tracked) t.client.close();
  for (const n of nodes) {
    n.proc.child.kill("SIGCONT");
    if (n.proc.child.exitCode === null) n.proc.child.kill("SIGKILL");
  }
  await lb?.close();
  await natsPath?.close();
  await producer?.close();
  await nats?.stop();
});

describe("network stalls and frozen peers", () => {
  it("the node-to-NATS path stalls past the ping timeout: the node notices, reconnects, repairs the gap", async () => {
    const prefix = "stall";
    const pub = startPublishing(prefix);
    await waitFor("some events flowing", 10_000, () => pub.count >= RATE);
    const reconnectsBefore = (await metric(gwA, "smsws_nats_reconnects_total")) ?? 0;
    const onA = (await metric(gwA, "smsws_connections")) ?? 0;
    const t0 = Date.now();
    natsPath.stall();
    // Nothing closes: /readyz stays 200 until the NATS client's pings go unanswered.
    await waitFor("gwA notices the stalled path", 45_000, async () => {
      const r = await readyz(gwA);
      return r.status === 503 && r.reasons.includes("nats_disconnected");
    }, 100);
    const detectedMs = Date.now() - t0;
    const bReady = (await readyz(gwB)).status;
    natsPath.unstall();
    await waitFor("gwA ready again", 30_000, async () => (await readyz(gwA)).status === 200, 100);
    const recoveredMs = Date.now() - t0;
    expect((await metric(gwA, "smsws_nats_reconnects_total")) ?? 0).toBeGreaterThan(reconnectsBefore);
    const atRecovery = pub.count;
    await waitFor("publishing after the stall", 20_000, () => pub.count >= atRecovery + 2 * RATE);
    await pub.stop();
    await allDelivered(prefix, pub.published);
    const result = tally(prefix, pub.published);
    const crashed = crashes();
    const repairs = (await metric(gwA, "smsws_gap_repairs_total")) ?? 0;
    console.log(
      `[network-stall path] ${onA} sockets on gwA; detected after ${detectedMs} ms, ready again after ${recoveredMs} ms; ` +
        `gwB readyz meanwhile ${bReady}; gap repairs on gwA ${repairs}; published ${pub.count}; delivered ${result.delivered}; ` +
        `lost ${result.lost}; duplicated ${result.duplicated}`,
    );
    recordFaults({ scenario: "network-stall: node-NATS path stalled past ping timeout", faults: 1, published: pub.count, ...result, crashes: crashed });
    // The pings found it (not a close: that would be at once), within the 10 s target.
    expect(detectedMs).toBeGreaterThan(2 * NATS_PING_INTERVAL_MS);
    expect(detectedMs).toBeLessThan(10_000);
    expect(bReady).toBe(200);
    expect(result).toMatchObject({ lost: 0, duplicated: 0 });
    expect(outOfOrder()).toBe(0);
    expect(crashed).toBe(0);
  });

  it("a short stall (under the ping timeout): no reconnect, delayed events arrive exactly once", async () => {
    const prefix = "blip";
    const pub = startPublishing(prefix);
    await waitFor("some events flowing", 10_000, () => pub.count >= RATE);
    const reconnectsBefore = (await metric(gwA, "smsws_nats_reconnects_total")) ?? 0;
    natsPath.stall();
    const atStall = pub.count;
    // Fault duration: 2 s of silence on the path, under the 4-6 s ping timeout.
    await waitFor("2 s of stalled path", 20_000, () => pub.count >= atStall + 2 * RATE);
    const readyDuring = (await readyz(gwA)).status;
    natsPath.unstall();
    const atUnstall = pub.count;
    await waitFor("publishing after the stall", 20_000, () => pub.count >= atUnstall + 2 * RATE);
    await pub.stop();
    await allDelivered(prefix, pub.published);
    const result = tally(prefix, pub.published);
    const crashed = crashes();
    const reconnectsAfter = (await metric(gwA, "smsws_nats_reconnects_total")) ?? 0;
    console.log(
      `[network-stall blip] readyz during ${readyDuring}; reconnects ${reconnectsBefore}->${reconnectsAfter}; published ${pub.count}; ` +
        `delivered ${result.delivered}; lost ${result.lost}; duplicated ${result.duplicated}`,
    );
    recordFaults({ scenario: "network-stall: node-NATS path stalled 2 s", faults: 1, published: pub.count, ...result, crashes: crashed });
    expect(readyDuring).toBe(200);
    expect(reconnectsAfter).toBe(reconnectsBefore);
    expect(result).toMatchObject({ lost: 0, duplicated: 0 });
    expect(outOfOrder()).toBe(0);
    expect(crashed).toBe(0);
  });

  it("a gateway node frozen with SIGSTOP: heartbeats move its clients to the other node; after SIGCONT it recovers", async () => {
    const prefix = "freeze";
    const pub = startPublishing(prefix);
    await waitFor("some events flowing", 10_000, () => pub.count >= RATE);
    const onB = (await metric(gwB, "smsws_connections")) ?? 0;
    expect(onB).toBeGreaterThan(0);
    const dropsBefore = tracked.reduce((n, t) => n + t.heartbeatDrops, 0);
    const t0 = Date.now();
    gwB.proc.child.kill("SIGSTOP");
    // The load balancer has no health check: reconnects still land on the frozen node half of
    // the time (the kernel accepts them), and the watchdog has to drop those too.
    await waitFor("every client live on gwA", 30_000, async () => tracked.every((t) => t.client.state === "live") && (await metric(gwA, "smsws_connections")) === CLIENTS, 100);
    const movedMs = Date.now() - t0;
    const atMoved = pub.count;
    await waitFor("publishing with gwB frozen", 20_000, () => pub.count >= atMoved + 2 * RATE);
    gwB.proc.child.kill("SIGCONT");
    const frozenMs = Date.now() - t0;
    await waitFor("gwB ready again", 30_000, async () => (await readyz(gwB)).status === 200, 100);
    await waitFor("gwB has let go of its dead sockets", 30_000, async () => (await metric(gwB, "smsws_connections")) === 0, 100);
    // It serves again: new clients straight to gwB get what is published from now on.
    const fresh = Array.from({ length: SCOPES }, (_, scope) => sdk(gwB.proc.url, scope));
    await waitFor("fresh clients live on gwB", 10_000, () => fresh.every((t) => t.client.state === "live"));
    const atFresh = pub.count;
    await waitFor("publishing after recovery", 20_000, () => pub.count >= atFresh + 2 * RATE);
    await pub.stop();
    await allDelivered(prefix, pub.published);
    const result = tally(prefix, pub.published);
    const freshPublished = pub.published.map((ids) => ids.filter((id) => Number(id.slice(prefix.length + 1)) >= atFresh));
    await allDelivered(prefix, freshPublished, fresh);
    const freshDup = fresh.reduce((n, t) => n + t.events.length - new Set(t.events.map((e) => e.eventId)).size, 0);
    const drops = tracked.reduce((n, t) => n + t.heartbeatDrops, 0) - dropsBefore;
    const crashed = crashes();
    const healthB = (await fetch(`${gwB.proc.http}/healthz`)).status;
    console.log(
      `[network-stall freeze] ${onB} sockets on gwB; all clients live on gwA after ${movedMs} ms; heartbeat drops ${drops}; ` +
        `frozen ${frozenMs} ms; published ${pub.count}; delivered ${result.delivered}; lost ${result.lost}; duplicated ${result.duplicated}; ` +
        `fresh clients on gwB got ${tally(prefix, freshPublished, fresh).delivered} events (duplicates ${freshDup})`,
    );
    recordFaults({ scenario: "network-stall: gateway node SIGSTOP/SIGCONT", faults: 1, published: pub.count, ...result, crashes: crashed });
    for (const t of fresh) t.client.close();
    expect(drops).toBeGreaterThanOrEqual(onB);
    expect(result).toMatchObject({ lost: 0, duplicated: 0 });
    expect(outOfOrder()).toBe(0);
    expect(freshDup).toBe(0);
    expect(healthB).toBe(200);
    expect(crashed).toBe(0);
  });
});

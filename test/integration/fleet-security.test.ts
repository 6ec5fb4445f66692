/**
 * Issue 19, the fleet plane (research: security-probe V-1, V-2, V-4), replayed on a nats-server
 * with the production permissions and two real nodes holding a fleet key: a holder of the
 * gateway password can neither read connection tables, nor kick, nor pose as a node to the admin
 * CLI, nor lock a tenant out or lift its quota with spoofed counts.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { openBucket } from "../../src/bus/buckets.js";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateFleetKey } from "../../src/fleet/fleet-key.js";
import { FLEET_SUBJECTS, SERVICE_NAME } from "../../src/fleet/messages.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { Violations } from "../helpers/nats-violations.js";
import { pollUntil } from "../helpers/poll.js";

const run = promisify(execFile);
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const SPY = "sms-ws.fleet.spy.conns";
const QUOTA = 3;

let nats: TestNats;
let producer: Producer;
let gateway: NatsConnection;
let gatewayViolations: Violations;
let a: TestNode;
let b: TestNode;
const fleetKey = generateFleetKey();
const keys: Record<string, string> = {};
const open: WebSocket[] = [];

interface Authed {
  ws: WebSocket;
  frame: { type: string; error?: string };
}

/** A raw socket authenticated with an API key: its first frame (auth_ok or auth_error). */
function authenticate(node: TestNode, apiKey: string): Promise<Authed> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(node.url);
    open.push(ws);
    ws.on("error", reject);
    ws.on("open", () => ws.send(JSON.stringify({ type: "auth", apiKey })));
    ws.once("message", (data) => resolve({ ws, frame: JSON.parse(String(data)) as Authed["frame"] }));
  });
}

/** Sum of a metric over both nodes. */
async function fleetMetric(name: string, labels: Record<string, string>): Promise<number> {
  return (await metricValue(a.node, name, labels)) + (await metricValue(b.node, name, labels));
}

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  keys.ta = await producer.key({ role: "app", tenantId: "ta", appId: "a1" });
  keys.tq = await producer.key({ role: "app", tenantId: "tq", appId: "q1" });
  keys.tg = await producer.key({ role: "app", tenantId: "tg", appId: "g1" });
  const tenants = await openBucket(producer.admin, "sms_tenants");
  for (const t of ["tq", "tg"]) await tenants.put(t, JSON.stringify({ maxConnections: QUOTA }));
  const env = { FLEET_SIGNING_KEY: fleetKey.signingKey };
  a = await startTestNode(nats, env);
  b = await startTestNode(nats, env);
  gateway = await nats.secure!.connect("gateway");
  gatewayViolations = new Violations(gateway);
}, 60_000);

afterAll(async () => {
  for (const ws of open) ws.close();
  await gateway?.close();
  await a?.stop();
  await b?.stop();
  await producer?.close();
  await nats?.stop();
});

describe("fleet plane with a stolen gateway password", () => {
  it("a conns or stats request from the gateway is refused by NATS and gets no answer (V-2 read)", async () => {
    const seen: string[] = [];
    gateway.subscribe(SPY, { callback: (_err, msg) => void seen.push(msg.string()) });
    await gateway.flush();
    gateway.publish(FLEET_SUBJECTS.conns, "{}", { reply: SPY });
    gateway.publish(FLEET_SUBJECTS.stats, "", { reply: SPY });
    await gatewayViolations.next("publish", FLEET_SUBJECTS.conns);
    await gatewayViolations.next("publish", FLEET_SUBJECTS.stats);
    // An admin request without a reply subject reaches the nodes (through the import) and is
    // dropped by their own check: the counter moves on both, and nothing is answered.
    const before = await fleetMetric("smsws_fleet_requests_refused_total", { endpoint: "conns" });
    producer.admin.publish(FLEET_SUBJECTS.conns, "{}");
    await pollUntil(async () => (await fleetMetric("smsws_fleet_requests_refused_total", { endpoint: "conns" })) === before + 2, 5000, "conns without a reply dropped by both nodes");
    await gateway.flush();
    expect(seen).toEqual([]);
  });

  it("a kick from the gateway is refused by NATS; one without an operator reply kicks nobody (V-1)", async () => {
    const victim = await authenticate(a, keys.ta as string);
    expect(victim.frame.type).toBe("auth_ok");
    let closed: number | undefined;
    victim.ws.on("close", (code) => (closed = code));
    const socketsBefore = a.node.sockets.count;
    gateway.publish(FLEET_SUBJECTS.kick, JSON.stringify({ tenant: "ta" }), { reply: SPY });
    await gatewayViolations.next("publish", FLEET_SUBJECTS.kick);
    const before = await fleetMetric("smsws_fleet_requests_refused_total", { endpoint: "kick" });
    producer.admin.publish(FLEET_SUBJECTS.kick, JSON.stringify({ tenant: "ta" }));
    await pollUntil(async () => (await fleetMetric("smsws_fleet_requests_refused_total", { endpoint: "kick" })) === before + 2, 5000, "the kick without a reply dropped by both nodes");
    expect(a.node.sockets.count).toBe(socketsBefore);
    // The socket still works end to end: a ping round trip after the refused kicks.
    await new Promise<void>((resolve) => {
      victim.ws.once("pong", () => resolve());
      victim.ws.ping();
    });
    expect(closed).toBeUndefined();
    expect(victim.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("an impostor answering on the admin inbox is not shown as a node by `sms-ws conns` or `kick` (V-2 impersonation)", async () => {
    const impostor = await nats.secure!.connect("gateway");
    let requests = 0;
    const answer = (msg: Msg, body: unknown): void => {
      requests++;
      if (msg.reply) impostor.publish(msg.reply, JSON.stringify(body));
    };
    const fake = { node: "FAKENODE0000000000000", host: "evil-pod" };
    impostor.subscribe(`$SRV.PING.${SERVICE_NAME}`, { callback: (_e, m) => answer(m, { type: "io.nats.micro.v1.ping_response", name: SERVICE_NAME, id: fake.node, version: "9.9.9", metadata: { host: fake.host } }) });
    impostor.subscribe(FLEET_SUBJECTS.conns, {
      callback: (_e, m) => answer(m, { ...fake, chunk: 0, chunks: 1, rows: [{ ...fake, socket: 1, role: "admin", address: "6.6.6.6", since: new Date().toISOString(), delivered: 999999, bufferedBytes: 0 }] }),
    });
    // Also a forged answer in a real node's name.
    impostor.subscribe(FLEET_SUBJECTS.kick, { callback: (_e, m) => answer(m, { node: a.node.fleetId, host: "x", kicked: 4242 }) });
    await impostor.flush();
    const env = { ...process.env, ...nats.cliEnv("admin"), FLEET_PUBLIC_KEY: fleetKey.publicKey, LOG_LEVEL: "silent" };
    const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const r = await run(process.execPath, [CLI, ...args, "--timeout", "2000"], { env });
        return { code: 0, ...r };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    try {
      const conns = await cli(["conns", "--json"]);
      const r = JSON.parse(conns.stdout) as { rows: { node: string; address: string }[]; nodes: { id: string }[]; verified: boolean; unverified: number };
      const real = [a.node.fleetId, b.node.fleetId];
      expect(r.verified).toBe(true);
      expect(r.unverified).toBeGreaterThanOrEqual(1);
      expect(r.rows.length).toBeGreaterThan(0);
      for (const row of r.rows) expect(real).toContain(row.node);
      expect(r.rows.map((row) => row.address)).not.toContain("6.6.6.6");
      expect(conns.code).toBe(4);
      expect(conns.stderr).toContain("not signed by the fleet key");

      const table = await cli(["conns"]);
      expect(table.stdout).not.toContain("evil-pod");
      expect(table.stdout).not.toContain("6.6.6.6");

      const kick = await cli(["kick", "--tenant", "nobody_here", "--json"]);
      const k = JSON.parse(kick.stdout) as { kicked: number; byNode: { node: string; kicked: number }[]; unverified: number };
      expect(k.kicked).toBe(0);
      expect(k.byNode.map((n) => n.node).sort()).toEqual([...real].sort());
      expect(k.unverified).toBeGreaterThanOrEqual(1);
      expect(kick.code).toBe(4);
      expect(requests).toBeGreaterThanOrEqual(4);
    } finally {
      await impostor.close();
    }
  });

  it("spoofed counts do not lock a quota'd tenant out (V-4 lock-out)", async () => {
    const before = await fleetMetric("smsws_fleet_counts_rejected_total", { reason: "unsigned" });
    gateway.publish(`${FLEET_SUBJECTS.counts}.FAKENODE`, JSON.stringify({ node: "FAKENODE", at: Date.now(), tenants: { tq: 100000 } }));
    await pollUntil(async () => (await fleetMetric("smsws_fleet_counts_rejected_total", { reason: "unsigned" })) >= before + 2, 5000, "spoofed counts refused by both nodes");
    expect(a.node.fleetQuota.remoteCount("tq")).toBe(0);
    for (const n of [a, b]) {
      const s = await authenticate(n, keys.tq as string);
      expect(s.frame).toEqual(expect.objectContaining({ type: "auth_ok" }));
      s.ws.close();
    }
  });

  it("a spoofed goodbye (or zero count) for a real node does not let the tenant past its quota (V-4 overshoot)", async () => {
    // The whole quota on node B. A node admits ceil(headroom / nodes) per counts interval (2 of 3
    // here): the last one after B's next share, which node A sees too.
    for (let i = 0; i < QUOTA - 1; i++) expect((await authenticate(b, keys.tg as string)).frame.type).toBe("auth_ok");
    await pollUntil(() => a.node.fleetQuota.remoteCount("tg") === QUOTA - 1, 10_000, "node A counts node B's first sockets");
    expect((await authenticate(b, keys.tg as string)).frame.type).toBe("auth_ok");
    // Node A learns node B's 3 from B's signed counts (so the signed path between nodes works).
    await pollUntil(() => a.node.fleetQuota.remoteCount("tg") === QUOTA, 10_000, "node A counts node B's sockets");
    const before = await metricValue(a.node, "smsws_fleet_counts_rejected_total", { reason: "unsigned" });
    const subject = `${FLEET_SUBJECTS.counts}.${b.node.fleetId}`;
    gateway.publish(subject, JSON.stringify({ node: b.node.fleetId, at: 0, tenants: {} }));
    gateway.publish(subject, JSON.stringify({ node: b.node.fleetId, at: Date.now(), tenants: {}, bye: true }));
    gateway.publish(subject, JSON.stringify({ node: b.node.fleetId, at: Date.now() + 1, tenants: { tg: 0 } }));
    await pollUntil(async () => (await metricValue(a.node, "smsws_fleet_counts_rejected_total", { reason: "unsigned" })) === before + 3, 5000, "spoofed goodbyes refused");
    expect(a.node.fleetQuota.remoteCount("tg")).toBe(QUOTA);
    const extra = await authenticate(a, keys.tg as string);
    expect(extra.frame).toEqual({ type: "auth_error", error: "Too many connections for this tenant" });
  });

  it("a real node's signed goodbye is believed at once", async () => {
    expect(a.node.fleetQuota.remoteCount("tg")).toBe(QUOTA);
    await b.stop();
    // Far below the 6 s a silent node's claim takes to expire.
    await pollUntil(() => a.node.fleetQuota.remoteCount("tg") === 0, 1500, "node B's goodbye");
  });
});

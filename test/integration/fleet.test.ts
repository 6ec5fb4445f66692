/**
 * The fleet as one system, on three gateway nodes and a 3-server NATS cluster running the
 * production permissions: `conns` lists every socket once with its node, `kick` closes exactly
 * the selected ones (4410, the SDK stops), `top` totals match the nodes' metrics, and the
 * fleet-wide tenant quota holds within its documented overshoot under a concurrent burst.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { NatsConnection } from "@nats-io/transport-node";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { kickConnections, listConnections, topSample, statsOnce } from "../../src/cli/fleet-command.js";
import { createClient, type SmsWsClient, type SmsWsError } from "../../src/client/index.js";
import { generateFleetKey } from "../../src/fleet/fleet-key.js";
import { createKey } from "../../src/keys/key-admin.js";
import { publishEvent } from "../../src/publisher/index.js";
import { metricValue, startTestNode, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";
import { startSecureCluster, type SecureCluster } from "../helpers/secure-cluster.js";

const run = promisify(execFile);
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const QUOTA = 100;
const BURST = 300;

interface Tracked {
  client: SmsWsClient;
  node: number;
  tenant: string;
  events: number;
  errors: SmsWsError[];
}

let cluster: SecureCluster;
let admin: NatsConnection;
let producer: NatsConnection;
const nodes: TestNode[] = [];
const clients: Tracked[] = [];
const keys: Record<string, string> = {};
/** The nodes sign with it, as in production; the CLI checks with its public half. */
const fleetKey = generateFleetKey();

beforeAll(async () => {
  cluster = await startSecureCluster();
  admin = await cluster.connect("admin", { maxReconnectAttempts: -1 });
  producer = await cluster.connect("producer", { maxReconnectAttempts: -1 });
  // Keys and quotas exist before the nodes start: their first load has them.
  const kv = await openBucket(admin, "sms_api_keys");
  for (const [name, input] of Object.entries({ a1: { tenantId: "ta", appId: "a1" }, a2: { tenantId: "ta", appId: "a2" }, b: { tenantId: "tb", appId: "b1" }, q: { tenantId: "tq", appId: "q1" } })) {
    keys[name] = (await createKey(kv, { role: "app", ...input })).apiKey;
  }
  keys.admin = (await createKey(kv, { role: "admin" })).apiKey;
  await (await openBucket(admin, "sms_tenants")).put("tq", JSON.stringify({ maxConnections: QUOTA }));
  for (let i = 0; i < 3; i++) nodes.push(await startTestNode({ url: cluster.url, nodeEnv: () => ({ ...cluster.nodeEnv(), FLEET_SIGNING_KEY: fleetKey.signingKey }) }));

  const plan: [string, string, number][] = [
    ["a1", "ta", 4],
    ["a2", "ta", 2],
    ["b", "tb", 2],
  ];
  for (const [i, n] of nodes.entries()) {
    for (const [key, tenant, count] of plan) {
      for (let k = 0; k < count; k++) clients.push(track(n, i, keys[key] as string, tenant));
    }
  }
  clients.push(track(nodes[0] as TestNode, 0, keys.admin as string, "*"));
  await pollUntil(() => clients.every((c) => c.client.state === "live"), 20_000, "all clients live");
}, 90_000);

function track(n: TestNode, node: number, apiKey: string, tenant: string): Tracked {
  const client = createClient({ url: n.url, apiKey, WebSocket: WebSocket as never, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  const t: Tracked = { client, node, tenant, events: 0, errors: [] };
  client.on("event", () => t.events++);
  client.on("error", (e) => t.errors.push(e));
  return t;
}

afterAll(async () => {
  for (const c of clients) c.client.close();
  for (const n of nodes) await n.stop();
  await admin?.close();
  await producer?.close();
  await cluster?.stop();
});

describe("fleet: three nodes, one NATS cluster", () => {
  it("every node is a NATS micro-service; conns lists every socket exactly once, on its node", async () => {
    // Events first, so `delivered` has something to count.
    for (let i = 0; i < 5; i++) await publishEvent(producer, { type: "sms_status", tenantId: "ta", appId: "a1", messageId: `m${i}`, status: "sent" });
    await publishEvent(producer, { type: "sms_status", tenantId: "tb", appId: "b1", messageId: "mb", status: "sent" });
    const expected = (c: Tracked): number => (c.tenant === "*" ? 6 : c.tenant === "tb" ? 1 : c.events === 0 && clients.indexOf(c) % 8 >= 4 ? 0 : 5);
    await pollUntil(() => clients.filter((c) => c.events === 5).length === 12 && clients.filter((c) => c.tenant === "tb" && c.events === 1).length === 6 && clients.every((c) => c.events === expected(c)), 10_000, "events delivered");

    const r = await listConnections(admin, {});
    expect(r.missing).toEqual([]);
    expect(r.nodes.map((n) => n.id).sort()).toEqual(nodes.map((n) => n.node.fleetId).sort());
    expect(r.rows).toHaveLength(clients.length);
    const ids = new Set(r.rows.map((row) => `${row.node}/${row.socket}`));
    expect(ids.size).toBe(clients.length);
    for (const [i, n] of nodes.entries()) {
      const rows = r.rows.filter((row) => row.node === n.node.fleetId);
      expect(rows).toHaveLength(n.node.sockets.count);
      expect(rows).toHaveLength(clients.filter((c) => c.node === i).length);
      expect(rows.filter((row) => row.tenant === "tb")).toHaveLength(2);
    }
    // delivered: the a1 sockets got 5 events, a2 sockets 0, tb sockets 1, the admin socket 6.
    for (const row of r.rows) {
      const want = row.role === "admin" ? 6 : row.tenant === "tb" ? 1 : row.app === "a1" ? 5 : 0;
      expect(row.delivered, JSON.stringify(row)).toBe(want);
      expect(row.address).toBe("127.0.0.1");
      expect(row.key ?? "").toMatch(/^[0-9a-f]{8}$/);
    }
    const onlyA2 = await listConnections(admin, { tenant: "ta", app: "a2" });
    expect(onlyA2.rows).toHaveLength(6);
    const onNode = await listConnections(admin, { node: nodes[1]?.node.fleetId as string });
    expect(onNode.rows).toHaveLength(nodes[1]?.node.sockets.count as number);
    const byKey = await listConnections(admin, { key: onlyA2.rows[0]?.key as string });
    expect(byKey.rows.map((row) => row.app)).toEqual(Array(6).fill("a2"));
  });

  it("the CLI: conns --json and top --once --json, as an operator runs them", async () => {
    const creds = cluster.credentials("admin");
    const env = { ...process.env, NATS_URL: cluster.url, NATS_USER: creds.user, NATS_PASSWORD: creds.pass, FLEET_PUBLIC_KEY: fleetKey.publicKey, LOG_LEVEL: "silent" };
    const conns = JSON.parse((await run(process.execPath, [CLI, "conns", "--tenant", "tb", "--json"], { env })).stdout) as { rows: unknown[]; missing: unknown[]; verified: boolean; unverified: number };
    expect(conns.rows).toHaveLength(6);
    expect(conns.missing).toEqual([]);
    // Every node's answer carried a valid signature.
    expect([conns.verified, conns.unverified]).toEqual([true, 0]);
    const table = (await run(process.execPath, [CLI, "conns", "--app", "a2"], { env })).stdout;
    expect(table).toContain("6 connection(s)");
    await expect(run(process.execPath, [CLI, "kick"], { env })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("kick needs a selector") });
    const top = JSON.parse((await run(process.execPath, [CLI, "top", "--once", "--json", "--interval", "200"], { env })).stdout) as { totals: { connections: number } };
    expect(top.totals.connections).toBe(clients.length);
  });

  it("top: totals equal the sum of the nodes' metrics", async () => {
    const before = await statsOnce(admin);
    for (let i = 0; i < 10; i++) await publishEvent(producer, { type: "sms_status", tenantId: "ta", appId: "a2", messageId: `t${i}`, status: "sent" });
    await pollUntil(async () => {
      let sum = 0;
      for (const n of nodes) sum += await metricValue(n.node, "smsws_events_delivered_total");
      // 6 a1-events to 12+1 sockets, 1 tb-event to 6+1, 10 a2-events to 6+1 sockets.
      return sum === 5 * 13 + 1 * 7 + 10 * 7;
    }, 10_000, "deliveries counted");
    const { sample } = await topSample(admin, before.replies);
    let connections = 0;
    let delivered = 0;
    for (const n of nodes) {
      connections += await metricValue(n.node, "smsws_connections", { state: "authenticated" });
      delivered += await metricValue(n.node, "smsws_events_delivered_total");
    }
    expect(sample.totals.connections).toBe(connections);
    expect(sample.totals.delivered).toBe(delivered);
    expect(sample.totals.perSecond).toBeGreaterThan(0);
    expect(sample.rows.find((r) => r.tenant === "ta")?.connections).toBe(18);
    expect(sample.missing).toEqual([]);
  });

  it("kick closes exactly the selected sockets with 4410; the SDK stops; the key stays valid", async () => {
    await expect(kickConnections(admin, {})).rejects.toThrow(/needs a selector/);
    const r = await kickConnections(admin, { tenant: "tb" });
    expect(r.kicked).toBe(6);
    expect(r.missing).toEqual([]);
    const kicked = clients.filter((c) => c.tenant === "tb");
    await pollUntil(() => kicked.every((c) => c.client.state === "closed"), 10_000, "kicked clients closed");
    for (const c of kicked) expect(c.errors.map((e) => [e.code, e.closeCode, e.fatal])).toContainEqual(["KICKED", 4410, true]);
    for (const c of clients.filter((x) => x.tenant !== "tb")) expect(c.client.state).toBe("live");
    expect((await listConnections(admin, { tenant: "tb" })).rows).toHaveLength(0);
    expect((await listConnections(admin, {})).rows).toHaveLength(clients.length - 6);
    let closed4410 = 0;
    for (const n of nodes) closed4410 += await metricValue(n.node, "smsws_connections_closed_total", { code: "4410" });
    expect(closed4410).toBe(6);
    // The key still works: a new client of tb gets in.
    const again = track(nodes[2] as TestNode, 2, keys.b as string, "tb");
    await pollUntil(() => again.client.state === "live", 10_000, "a kicked key connects again");
    again.client.close();
  });

  it(`quota: ${BURST} sockets of one tenant at once over 3 nodes, quota ${QUOTA}`, async () => {
    const url = (i: number): string => (nodes[i % 3] as TestNode).url;
    const outcomes = await Promise.all(
      Array.from({ length: BURST }, (_, i) => {
        return new Promise<{ ok: boolean; ws: WebSocket; reason?: string }>((resolve, reject) => {
          const ws = new WebSocket(url(i));
          ws.on("error", reject);
          ws.on("open", () => ws.send(JSON.stringify({ type: "auth", apiKey: keys.q })));
          ws.once("message", (data) => {
            const frame = JSON.parse(String(data)) as { type: string; error?: string };
            resolve({ ok: frame.type === "auth_ok", ws, ...(frame.error === undefined ? {} : { reason: frame.error }) });
          });
        });
      }),
    );
    const admitted = outcomes.filter((o) => o.ok).length;
    const refusals = new Set(outcomes.filter((o) => !o.ok).map((o) => o.reason));
    const listed = (await listConnections(admin, { tenant: "tq" })).rows.length;
    let quotaRefusals = 0;
    for (const n of nodes) quotaRefusals += await metricValue(n.node, "smsws_auth_total", { outcome: "tenant_quota" });
    console.log(`[fleet quota] ${BURST} concurrent sockets of one tenant over 3 nodes, quota ${QUOTA}: admitted ${admitted} (overshoot ${admitted - QUOTA}), refused ${BURST - admitted}; listed by conns ${listed}`);
    for (const o of outcomes) o.ws.close();
    expect(listed).toBe(admitted);
    expect(quotaRefusals).toBe(BURST - admitted);
    expect([...refusals]).toEqual(["Too many connections for this tenant"]);
    // The documented bound: quota + (nodes - 1) x ceil(quota / nodes).
    expect(admitted).toBeLessThanOrEqual(QUOTA + 2 * Math.ceil(QUOTA / 3));
    expect(admitted).toBeGreaterThanOrEqual(Math.ceil(QUOTA / 3));
  });
});

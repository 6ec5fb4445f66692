/**
 * The production load balancer itself (k8s/overlays/production/haproxy.cfg, run by a real HAProxy
 * via test/helpers/haproxy.ts) in front of two real nodes: `?tenant=` hints hash each tenant onto
 * its node, `hash-balance-factor 125` bounds every node, and the per-source limits keep one
 * client's flood of silent connections from keeping others out. (test/integration/affinity.test.ts
 * checks the same rule with a JS stand-in on three nodes and counts NATS deliveries.)
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { haproxyVersion, startHaproxy, type TestHaproxy } from "../helpers/haproxy.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";
import { silentFlood } from "../helpers/silent-flood.js";

let nats: TestNats;
let nodes: TestNode[];
let producer: Producer;
const keys = new Map<string, string>();
const TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"];

beforeAll(async () => {
  console.log(`[haproxy] ${haproxyVersion()}`);
  nats = await startTestNats();
  nodes = [await startTestNode(nats, { ALLOWED_ROLES: "app" }), await startTestNode(nats, { ALLOWED_ROLES: "app" })];
  producer = await startProducer(nats);
  for (const t of [...TENANTS, "big"]) keys.set(t, await producer.key({ role: "app", tenantId: t, appId: "web" }));
});

afterAll(async () => {
  for (const n of nodes ?? []) await n.stop();
  await producer?.close();
  await nats?.stop();
});

/** HAProxy started on the two nodes, once both answer through it. */
async function haproxy(options: { nofile?: number } = {}): Promise<TestHaproxy> {
  const lb = await startHaproxy(
    nodes.map((n) => n.node.port),
    options,
  );
  await pollUntil(async () => (await fetch(`http://127.0.0.1:${lb.port}/readyz`)).status === 200, 10_000, "a node ready behind HAProxy");
  return lb;
}

const load = (): number[] => nodes.map((n) => n.node.sockets.count);

/**
 * HAProxy's bound (lb_chash.c, chash_server_is_eligible): with `served` connections in the
 * backend, the next one may go to a server holding fewer than its share of
 * ceil((served + 1) x 1.25) slots; two equal servers get floor or ceil of half of them.
 */
function slots(servedAfter: number): { floor: number; ceil: number } {
  const total = Math.ceil((servedAfter * 125) / 100);
  return { floor: Math.floor(total / 2), ceil: Math.ceil(total / 2) };
}

/** Opens a socket through HAProxy with the tenant hint; returns the node it landed on. */
async function open(lb: TestHaproxy, tenant: string, held: TestClient[]): Promise<number> {
  const before = load();
  held.push(await TestClient.authed(`ws://127.0.0.1:${lb.port}/ws?tenant=${tenant}`, keys.get(tenant)!));
  const after = load();
  const node = after.findIndex((n, i) => n === before[i]! + 1);
  expect(node).toBeGreaterThanOrEqual(0);
  return node;
}

async function closeAll(held: TestClient[]): Promise<void> {
  for (const c of held) c.close();
  await pollUntil(() => load().every((n) => n === 0), 10_000, "sockets closed");
}

describe("HAProxy (production config) in front of two nodes", () => {
  it("each tenant's sockets land on its node; a second node only when the first is at the bound", async () => {
    const lb = await haproxy();
    const held: TestClient[] = [];
    try {
      const home = new Map<string, number>();
      const placed: Record<string, number[]> = {};
      // Three rounds of interleaved arrivals: every tenant connects once per round.
      for (let round = 0; round < 3; round++) {
        for (const t of TENANTS) {
          const countsBefore = load();
          const node = await open(lb, t, held);
          (placed[t] ??= []).push(node);
          const servedAfter = held.length;
          const first = home.get(t);
          if (first === undefined) home.set(t, node);
          // Off its node only when that node had used its share of the slots.
          else if (node !== first) expect(countsBefore[first], `${t} moved off node ${first}`).toBeGreaterThanOrEqual(slots(servedAfter).floor);
          for (const n of load()) expect(n).toBeLessThanOrEqual(slots(servedAfter).ceil);
        }
      }
      console.log(`[haproxy] placement by tenant (node per arrival): ${JSON.stringify(placed)}; load ${JSON.stringify(load())}`);
      // The hash spreads tenants over both nodes, and most tenants stay on one node.
      expect(new Set(home.values()).size).toBe(2);
      expect(Object.values(placed).filter((p) => new Set(p).size === 1).length).toBeGreaterThanOrEqual(TENANTS.length / 2);
    } finally {
      await closeAll(held);
      await lb.stop();
    }
  });

  it("one tenant's burst is bounded: no node above its share of ceil(1.25 x connections)", async () => {
    const lb = await haproxy();
    const held: TestClient[] = [];
    try {
      const first = await open(lb, "big", held);
      for (let i = 1; i < 16; i++) {
        const countsBefore = load();
        const node = await open(lb, "big", held);
        const { floor, ceil } = slots(held.length);
        if (node !== first) expect(countsBefore[first]).toBeGreaterThanOrEqual(floor);
        for (const n of load()) expect(n).toBeLessThanOrEqual(ceil);
      }
      console.log(`[haproxy] 16 sockets of one tenant: ${JSON.stringify(load())} (first node ${first})`);
      // Without the bound all 16 would sit on the first node.
      expect(load()[first]).toBeLessThanOrEqual(slots(16).ceil);
      expect(load()[1 - first]).toBeGreaterThan(0);
    } finally {
      await closeAll(held);
      await lb.stop();
    }
  });
});

describe("HAProxy edge limits", () => {
  it("a flood of silent connections from one address cannot keep another client out", async () => {
    // A small descriptor budget (ulimit -n 1024), so that 1 200 unlimited connections would fill it.
    const lb = await haproxy({ nofile: 1024 });
    const flood = silentFlood(lb.port, 1200, { localAddress: "127.0.0.2" });
    try {
      await pollUntil(() => flood.connected + flood.closedByPeer >= 1200, 10_000, "every flood connection answered");
      const t0 = Date.now();
      let deadline: NodeJS.Timeout | undefined;
      const client = await Promise.race([
        TestClient.authed(`ws://127.0.0.1:${lb.port}/ws?tenant=acme`, keys.get("acme")!),
        new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error("no auth_ok within 4.5 s while the flood holds its connections")), 4500))),
      ]).finally(() => clearTimeout(deadline));
      const authMs = Date.now() - t0;
      const held = flood.open();
      console.log(`[haproxy] flood: ${held} of 1200 held open, ${flood.closedByPeer} closed by HAProxy; another client's auth_ok in ${authMs} ms`);
      // Inside `timeout http-request` (5 s): the client did not wait for the flood to time out
      // (without the limits it waits behind the flood in HAProxy's accept queue: 5 s or more).
      expect(authMs).toBeLessThan(4000);
      // The flood still holds what the per-source rate lets it (200 per 10 s); HAProxy closed the rest at once.
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(200);
      client.close();
    } finally {
      flood.close();
      await closeAll([]);
      await lb.stop();
    }
  });

  it("two different Content-Length headers are refused by HAProxy with 400 (W-7)", async () => {
    const lb = await haproxy();
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(lb.port, "127.0.0.1");
        let text = "";
        s.on("data", (d) => (text += d.toString("latin1")));
        s.on("close", () => resolve(text));
        s.on("error", reject);
        s.write("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nContent-Length: 0\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
      });
      expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad request");
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    } finally {
      await lb.stop();
    }
  });
});

/**
 * Randomized: many sockets on two nodes with random scopes and random filters (some following
 * messages by watch), thousands of random events (types, statuses, message ids, tenant-wide,
 * both bus paths). Every socket receives exactly what its scope AND its filter allow: none
 * missing, none extra, none twice. Seeded (FILTERS_SEED reproduces a failure).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SmsEvent } from "../../src/events/event.js";
import { publishEvent } from "../../src/publisher/index.js";
import { filterAllows, parseFilter, type EventFilter } from "../../src/scope/filter.js";
import { scopeAllows, type Scope } from "../../src/scope/scope.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";
import { pick, seededRandom, type Rng } from "../helpers/random.js";

let nats: TestNats;
let nodes: TestNode[];
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  nodes = [await startTestNode(nats), await startTestNode(nats)];
  producer = await startProducer(nats);
});

afterAll(async () => {
  for (const n of nodes ?? []) await n.stop();
  await producer?.close();
  await nats?.stop();
});

const STATUSES = ["queued", "sent", "delivered", "failed", "undelivered"];
const MESSAGES = Array.from({ length: 12 }, (_, i) => `msg_${i}`);

function some<T>(r: Rng, xs: readonly T[], p: number): T[] {
  for (;;) {
    const out = xs.filter(() => r() < p);
    if (out.length > 0) return out;
  }
}

/** A random auth filter (undefined: none), and messages to watch after auth when it follows messages. */
function randomFilter(r: Rng): { filter: Record<string, unknown> | undefined; watch: string[] } {
  if (r() < 0.2) return { filter: undefined, watch: [] };
  const filter: Record<string, unknown> = {};
  if (r() < 0.4) filter.types = [pick(r, ["sms_status", "sms_inbound"])];
  if (r() < 0.4) filter.statuses = some(r, STATUSES, 0.3);
  let watch: string[] = [];
  if (r() < 0.5) {
    filter.messageIds = r() < 0.5 ? some(r, MESSAGES, 0.2) : [];
    watch = r() < 0.6 ? some(r, MESSAGES, 0.25) : [];
  }
  return { filter, watch };
}

describe("filters, randomized", () => {
  it("every socket gets exactly what its scope and filter allow, once", async () => {
    const random = seededRandom(Number(process.env.FILTERS_SEED ?? 20260301));
    const tenants = ["fa", "fb", "fc"];
    const apps = ["a1", "a2", "a3"];
    const scopes: Scope[] = [{ role: "admin" }];
    for (const t of tenants) for (const a of apps) scopes.push({ role: "app", tenantId: t, appId: a });
    const keys = new Map<string, string>();
    const keyOf = async (scope: Scope): Promise<string> => {
      const name = scope.role === "admin" ? "admin" : `${scope.tenantId}.${scope.appId}`;
      let key = keys.get(name);
      if (key === undefined) {
        key = await producer.key(scope.role === "admin" ? { role: "admin" } : { role: "app", tenantId: scope.tenantId, appId: scope.appId });
        keys.set(name, key);
      }
      return key;
    };
    const delivered = async (): Promise<number> => {
      let n = 0;
      for (const node of nodes) n += await metricValue(node.node, "smsws_events_delivered_total");
      return n;
    };
    const since = await delivered();

    const clients: { scope: Scope; filter: EventFilter; client: TestClient }[] = [];
    for (let i = 0; i < 80; i++) {
      const scope = pick(random, scopes);
      const { filter, watch } = randomFilter(random);
      const node = nodes[i % nodes.length] as TestNode;
      const client = await TestClient.authed(node.url, await keyOf(scope), filter === undefined ? {} : { filter });
      let effective = parseFilter(filter);
      if (watch.length > 0) {
        client.sendJson({ type: "watch", messageIds: watch });
        await client.waitFor((f) => f.type === "watch_ok");
        effective = { ...effective, messageIds: new Set([...(effective.messageIds ?? []), ...watch]) };
      }
      clients.push({ scope, filter: effective, client });
    }

    const published: SmsEvent[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      const tenantId = pick(random, tenants);
      const appId = pick(random, [...apps, "a4"]);
      const messageId = pick(random, MESSAGES);
      const eventId = `q${i}`;
      const kind = random();
      const event =
        kind < 0.15
          ? { type: "sms_inbound" as const, eventId, messageId, from: "+1", to: "+2", body: "b", tenantId }
          : kind < 0.35
            ? { type: "sms_inbound" as const, eventId, messageId, from: "+1", to: "+2", body: "b", tenantId, appId }
            : { type: "sms_status" as const, eventId, messageId, tenantId, appId, status: pick(random, [...STATUSES, "sending"]) };
      published.push({ ...event, timestamp: "" } as SmsEvent);
      const direct = i % 2 === 0;
      pending.push(publishEvent(direct ? producer.direct : producer.nc, event, { direct }));
    }
    await Promise.all(pending);

    let total = 0;
    const expectedOf = new Map<TestClient, string[]>();
    for (const { scope, filter, client } of clients) {
      const expected = published
        .filter((e) => scopeAllows(scope, e.tenantId, e.type === "sms_inbound" ? (e.appId ?? "_") : e.appId) && filterAllows(filter, e))
        .map((e) => e.eventId);
      expectedOf.set(client, expected);
      total += expected.length;
      await client.until(() => client.events().length >= expected.length, 30_000, `${expected.length} events`);
    }
    // Nothing extra still in flight: the nodes delivered exactly what the sockets received.
    const received = (): number => clients.reduce((n, c) => n + c.client.events().length, 0);
    await pollUntil(async () => (await delivered()) - since === received(), 10_000, "deliveries = receipts");
    expect(received()).toBe(total);
    for (const { scope, filter, client } of clients) {
      const got = client.events();
      for (const e of got) {
        const appToken = (e.appId as string | undefined) ?? "_";
        expect(scopeAllows(scope, e.tenantId as string, appToken), `${JSON.stringify(scope)} got ${JSON.stringify(e)}`).toBe(true);
        expect(filterAllows(filter, e as unknown as SmsEvent), `filter refuses ${JSON.stringify(e)}`).toBe(true);
      }
      const ids = got.map((e) => e.eventId as string);
      expect(new Set(ids).size, "no event twice").toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(expectedOf.get(client)));
    }
    expect(clients.filter((c) => (expectedOf.get(c.client)?.length ?? 0) > 0).length).toBeGreaterThan(50);
    for (const { client } of clients) client.close();
  });
});

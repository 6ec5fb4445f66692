/**
 * The security boundary: no socket ever receives an event outside its scope, none missing.
 * The randomized test uses a seeded generator, so a failure reproduces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishEvent } from "../../src/publisher/index.js";
import { scopeAllows, type Scope } from "../../src/scope/scope.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { seededRandom } from "../helpers/random.js";
import { pollUntil } from "../helpers/poll.js";

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

describe("scoping", () => {
  it("app sockets get their app and tenant-wide events; admin gets everything", async () => {
    const [n1] = nodes as [TestNode];
    const a1 = await TestClient.authed(n1.url, await producer.key({ role: "app", tenantId: "T1", appId: "A1" }));
    const a2 = await TestClient.authed(n1.url, await producer.key({ role: "app", tenantId: "T1", appId: "A2" }));
    const b1 = await TestClient.authed(n1.url, await producer.key({ role: "app", tenantId: "T2", appId: "A1" }));
    const admin = await TestClient.authed(n1.url, await producer.key({ role: "admin" }));
    const status = (tenantId: string, appId: string, eventId: string) =>
      publishEvent(producer.nc, { type: "sms_status", eventId, messageId: "m", tenantId, appId, status: "sent" });
    const inbound = (tenantId: string, eventId: string, appId?: string) =>
      publishEvent(producer.nc, { type: "sms_inbound", eventId, messageId: "m", from: "+1", to: "+2", body: "hi", tenantId, ...(appId ? { appId } : {}) });
    await status("T1", "A1", "e1");
    await status("T1", "A2", "e2");
    await status("T2", "A1", "e3");
    await inbound("T1", "e4");
    await inbound("T2", "e5", "A1");
    await status("T9", "A9", "e6");
    await admin.waitForEvents(6);
    await a1.waitForEvents(2);
    await a2.waitForEvents(2);
    await b1.waitForEvents(2);
    const ids = (c: TestClient) => c.events().map((e) => e.eventId);
    expect(ids(admin)).toEqual(["e1", "e2", "e3", "e4", "e5", "e6"]);
    expect(ids(a1)).toEqual(["e1", "e4"]);
    expect(ids(a2)).toEqual(["e2", "e4"]);
    expect(ids(b1)).toEqual(["e3", "e5"]);
    for (const c of [a1, a2, b1, admin]) c.close();
  });

  it("randomized isolation: many tenants, apps and keys on two nodes; exact sets, nothing leaked", async () => {
    const random = seededRandom(Number(process.env.ISOLATION_SEED ?? 20261127));
    const tenants = ["ta", "tb", "tc", "td"];
    const apps = ["a1", "a2", "a3"];
    const scopes: Scope[] = [{ role: "admin" }];
    for (const t of tenants) for (const a of apps) scopes.push({ role: "app", tenantId: t, appId: a });
    const clients: { scope: Scope; client: TestClient }[] = [];
    for (let i = 0; i < 60; i++) {
      const scope = scopes[Math.floor(random() * scopes.length)] as Scope;
      const key = await producer.key(scope.role === "admin" ? { role: "admin" } : { role: "app", tenantId: scope.tenantId, appId: scope.appId });
      const node = nodes[i % nodes.length] as TestNode;
      clients.push({ scope, client: await TestClient.authed(node.url, key) });
    }
    const published: { eventId: string; tenantId: string; appToken: string }[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      const tenantId = tenants[Math.floor(random() * tenants.length)] as string;
      // Some apps exist in no key's scope at all (a4): nobody but admin may see those.
      const appId = [...apps, "a4"][Math.floor(random() * 4)] as string;
      const tenantWide = random() < 0.2;
      const eventId = `r${i}`;
      const event = tenantWide
        ? { type: "sms_inbound", eventId, messageId: `m${i}`, from: "+1", to: "+2", body: "b", tenantId }
        : random() < 0.5
          ? { type: "sms_status", eventId, messageId: `m${i}`, tenantId, appId, status: "sent" }
          : { type: "sms_inbound", eventId, messageId: `m${i}`, from: "+1", to: "+2", body: "b", tenantId, appId };
      published.push({ eventId, tenantId, appToken: tenantWide ? "_" : appId });
      const direct = i % 2 === 0;
      pending.push(publishEvent(direct ? producer.direct : producer.nc, event, { direct }));
    }
    await Promise.all(pending);
    for (const { scope, client } of clients) {
      const expected = published.filter((p) => scopeAllows(scope, p.tenantId, p.appToken)).map((p) => p.eventId);
      await client.until(() => client.events().length >= expected.length, 20_000, `${expected.length} events`);
      const got = client.events();
      for (const e of got) {
        // The boundary itself, checked on the frame's own fields.
        const appToken = (e.appId as string | undefined) ?? "_";
        expect(scopeAllows(scope, e.tenantId as string, appToken), `${JSON.stringify(scope)} got ${JSON.stringify(e)}`).toBe(true);
      }
      expect(new Set(got.map((e) => e.eventId))).toEqual(new Set(expected));
      expect(got).toHaveLength(expected.length);
    }
    for (const { client } of clients) client.close();
  });
});

describe("two nodes and subscriptions", () => {
  it("both nodes deliver the same event to their own sockets", async () => {
    const key = await producer.key({ role: "app", tenantId: "T5", appId: "A5" });
    const [n1, n2] = nodes as [TestNode, TestNode];
    const c1 = await TestClient.authed(n1.url, key);
    const c2 = await TestClient.authed(n2.url, key);
    await publishEvent(producer.nc, { type: "sms_status", eventId: "both", messageId: "m", tenantId: "T5", appId: "A5", status: "sent" });
    await c1.waitForEvents(1);
    await c2.waitForEvents(1);
    expect(c1.rawEvents()).toEqual(c2.rawEvents());
    c1.close();
    c2.close();
  });

  it("subscribes a scope's subjects on the first socket and unsubscribes after the last", async () => {
    const key = await producer.key({ role: "app", tenantId: "T6", appId: "A6" });
    const n1 = nodes[0] as TestNode;
    const mine = async () => (await nats.subscriptions()).filter((s) => s.startsWith("sms.T6.")).sort();
    expect(await mine()).toEqual([]);
    const c1 = await TestClient.authed(n1.url, key);
    expect(await mine()).toEqual(["sms.T6.A6.*", "sms.T6._.*"]);
    const c2 = await TestClient.authed(n1.url, key);
    expect(await mine()).toEqual(["sms.T6.A6.*", "sms.T6._.*"]);
    c1.close();
    await c1.waitClosed();
    await pollUntil(async () => n1.node.sockets.count === countOpen([c2]));
    expect(await mine()).toEqual(["sms.T6.A6.*", "sms.T6._.*"]);
    c2.close();
    await pollUntil(async () => (await mine()).length === 0);
    expect(await mine()).toEqual([]);
  });

  it("holds sms.> only while an admin socket is connected", async () => {
    const n2 = nodes[1] as TestNode;
    const admin = await TestClient.authed(n2.url, await producer.key({ role: "admin" }));
    expect((await nats.subscriptions()).filter((s) => s === "sms.>")).toHaveLength(1);
    admin.close();
    await pollUntil(async () => !(await nats.subscriptions()).includes("sms.>"));
  });
});

function countOpen(clients: TestClient[]): number {
  return clients.filter((c) => c.closed === undefined).length;
}


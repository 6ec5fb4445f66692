/**
 * STREAM_PARTITIONS=K (docs/partitioning.md): a real nats-server with the subject mapping rendered
 * from src/bus/partitions.ts and the production permissions, real node processes (SIGKILL).
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionIndex } from "../../src/bus/partitions.js";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient, type Frame } from "../helpers/client.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats } from "../helpers/harness.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";

const K = 4;
let nats: TestNats;
let producer: Producer;
const procs: NodeProcess[] = [];

beforeAll(async () => {
  nats = await startTestNats({ partitions: K });
  producer = await startProducer(nats);
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await producer?.close();
  await nats?.stop();
});

const env = (): Record<string, string> => ({ ...nats.nodeEnv(), STREAM_PARTITIONS: String(K) });

async function nodeProcess(): Promise<NodeProcess> {
  const p = await startNodeProcess(nats.url, env());
  procs.push(p);
  return p;
}

const status = (tenantId: string, appId: string, messageId: string) =>
  publishEvent(producer.nc, { type: "sms_status", messageId, tenantId, appId, status: "sent" });

/** Keys already loaded by node processes: wait until a node authenticates it. */
async function authed(url: string, key: string, extra: Record<string, unknown> = {}): Promise<TestClient> {
  for (let i = 0; ; i++) {
    const c = await TestClient.connect(url);
    c.sendJson({ type: "auth", apiKey: key, ...extra });
    await c.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
    if (c.frames[0]?.type === "auth_ok") return c;
    c.close();
    if (i > 100) throw new Error(`auth failed: ${c.raw[0]}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("partitions", () => {
  it("a node computes every tenant's partition exactly as nats-server's mapping does", async () => {
    const js = jetstream(producer.nc);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const tenant = `tenant-${i}_${(i * 7919).toString(36)}`;
      const ack = await js.publish(`in.sms.${tenant}.app.status`, new Uint8Array([0x80]));
      expect(ack.stream).toBe(`SMS_EVENTS_${partitionIndex(tenant, K)}`);
      seen.add(ack.stream);
    }
    expect(seen.size).toBe(K);
  });

  it("streams are SMS_EVENTS_0..K-1 republishing to the unchanged live subjects; epochs name the partition", async () => {
    const jsm = await jetstreamManager(producer.admin);
    for (let k = 0; k < K; k++) {
      const info = await jsm.streams.info(`SMS_EVENTS_${k}`);
      expect(info.config.subjects).toEqual([`in.sms.${k}.*.*.*`]);
      expect(info.config.republish).toMatchObject({ src: `in.sms.${k}.*.*.*`, dest: "sms.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}" });
    }
    const node = await startTestNode(nats, { STREAM_PARTITIONS: String(K) });
    try {
      const appKey = await producer.key({ role: "app", tenantId: "Ep", appId: "a" });
      const app = await TestClient.authed(node.url, appKey);
      expect(app.frames[0]?.epoch).toMatch(new RegExp(`^p${partitionIndex("Ep", K)}/${K}@\\d{4}-`));
      const adminKey = await producer.key({ role: "admin" });
      const admin = await TestClient.authed(node.url, adminKey);
      expect(admin.frames[0]?.epoch).toBeUndefined();
      const epochs = admin.frames[0]?.epochs as string[];
      expect(epochs.map((e) => e.split("@")[0])).toEqual(Array.from({ length: K }, (_, k) => `p${k}/${K}`));
      // A single position on an admin socket over K partitions cannot be resumed exactly.
      const single = await TestClient.authed(node.url, adminKey, { resume: { epoch: epochs[0], seq: 0 } });
      await single.waitFor((f) => f.type === "resume_failed");
      expect(single.frames[1]).toEqual({ type: "resume_failed", reason: "epoch" });
      for (const c of [app, admin, single]) c.close();
    } finally {
      await node.stop();
    }
  });

  it("app and admin sockets resume exactly across a node SIGKILL: nothing lost, nothing repeated, per-partition order", async () => {
    const tenants = ["Ta", "Tb", "Tc", "Td", "Te", "Tf", "Tg", "Th"];
    expect(new Set(tenants.map((t) => partitionIndex(t, K))).size).toBeGreaterThan(1);
    const a = await nodeProcess();
    const b = await nodeProcess();
    const appKey = await producer.key({ role: "app", tenantId: "Ta", appId: "x" });
    const adminKey = await producer.key({ role: "admin" });
    const app = await authed(a.url, appKey);
    const admin = await authed(a.url, adminKey);
    const epoch = app.frames[0]?.epoch as string;
    const epochs = admin.frames[0]?.epochs as string[];
    let n = 0;
    const publishRound = async (prefix: string): Promise<string[]> => {
      const ids: string[] = [];
      for (const t of tenants) {
        const id = `${prefix}-${n++}`;
        await status(t, "x", id);
        ids.push(id);
      }
      return ids;
    };
    const before = await publishRound("before");
    await admin.until(() => admin.events().length >= before.length, 5000, "admin events before");
    await app.until(() => app.events().length >= 1, 5000, "app event before");
    // Positions as a client keeps them: the app's one, the admin's per partition (from tenantId).
    const appSeq = app.events().at(-1)?.seq as number;
    const positions = epochs.map((e) => ({ epoch: e, seq: 0 }));
    for (const e of admin.events()) (positions[partitionIndex(e.tenantId as string, K)] as { seq: number }).seq = e.seq as number;

    a.child.kill("SIGKILL");
    await a.exited;
    const missed = [...(await publishRound("missed")), ...(await publishRound("missed"))];

    const app2 = await authed(b.url, appKey, { resume: { epoch, seq: appSeq } });
    const admin2 = await authed(b.url, adminKey, { resume: { positions } });
    await app2.waitFor((f) => f.type === "resumed");
    await admin2.waitFor((f) => f.type === "resumed");
    const live = await publishRound("live");

    const appWant = [...missed, ...live].filter((_, i) => tenants[i % tenants.length] === "Ta");
    await app2.until(() => app2.events().length >= appWant.length, 5000, "app events");
    expect(app2.events().map((e) => e.messageId)).toEqual(appWant);
    expect(app2.frames.find((f) => f.type === "resumed")).toEqual({ type: "resumed", replayed: 2 });

    const want = [...missed, ...live];
    await admin2.until(() => admin2.events().length >= want.length, 5000, "admin events");
    const got = admin2.events();
    expect(got.map((e) => e.messageId).sort()).toEqual([...want].sort());
    expect(new Set(got.map((e) => e.eventId)).size).toBe(got.length);
    // Order within each partition; each tenant's events in publish order.
    for (let k = 0; k < K; k++) {
      const seqs = got.filter((e) => partitionIndex(e.tenantId as string, K) === k).map((e) => e.seq as number);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    }
    for (const t of tenants) {
      const mine = got.filter((e) => e.tenantId === t).map((e) => e.messageId as string);
      expect(mine).toEqual(want.filter((_, i) => tenants[i % tenants.length] === t));
    }
    for (const c of [app, admin, app2, admin2]) c.close();
    b.child.kill("SIGTERM");
    await b.exited;
  }, 60_000);

  it("history: app credentials read their partition; admin needs partition= (or a cursor naming it)", async () => {
    const node = await startTestNode(nats, { STREAM_PARTITIONS: String(K) });
    try {
      const appKey = await producer.key({ role: "app", tenantId: "Hx", appId: "h" });
      const adminKey = await producer.key({ role: "admin" });
      await status("Hx", "h", "h1");
      await status("Hx", "h", "h2");
      const get = async (key: string, q: string): Promise<{ status: number; body: Frame & { events?: Frame[]; next?: string | null; epoch?: string } }> => {
        const res = await fetch(`${node.http}/v1/events?${q}`, { headers: { authorization: `Bearer ${key}` } });
        return { status: res.status, body: (await res.json()) as never };
      };
      const app = await get(appKey, "limit=10");
      expect(app.status).toBe(200);
      expect(app.body.events?.map((e) => e.messageId)).toEqual(["h1", "h2"]);
      const k = partitionIndex("Hx", K);
      expect(app.body.epoch).toMatch(new RegExp(`^p${k}/${K}@`));
      const first = app.body.events?.[0] as Frame;
      const after = await get(appKey, `after=${encodeURIComponent(`${app.body.epoch}:${first.seq}`)}`);
      expect(after.body.events?.map((e) => e.messageId)).toEqual(["h2"]);

      const none = await get(adminKey, "limit=10");
      expect(none.status).toBe(400);
      expect(none.body).toMatchObject({ parameter: "partition" });
      const admin = await get(adminKey, `partition=${k}&limit=1000`);
      expect(admin.status).toBe(200);
      const events = admin.body.events ?? [];
      expect(events.map((e) => e.messageId)).toContain("h2");
      expect(events.every((e) => partitionIndex(e.tenantId as string, K) === k)).toBe(true);
      const byCursor = await get(adminKey, `after=${encodeURIComponent(`${admin.body.epoch}:${first.seq}`)}`);
      expect(byCursor.status).toBe(200);
      expect(byCursor.body.events?.map((e) => e.messageId)).toContain("h2");
    } finally {
      await node.stop();
    }
  });
});

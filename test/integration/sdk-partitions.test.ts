/**
 * An admin SDK client on a partitioned stream (STREAM_PARTITIONS=4, docs/partitioning.md,
 * "Positions"): real nats-server, real node processes behind a loopback TCP proxy, the real
 * TypeScript SDK. The node it is on is SIGKILLed; events published while it has no socket must
 * come back through `resume.positions` (one position per partition), every event exactly once
 * and in order per tenant. Without per-partition positions the reconnect answers `resume_failed`
 * and the events published meanwhile are lost, so the test can fail.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionIndex } from "../../src/bus/partitions.js";
import { createClient, type ResumeFailure, type ResumeSuccess, type SmsEvent } from "../../src/client/index.js";
import { publishEvent } from "../../src/publisher/index.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const K = 4;
let nats: TestNats;
let producer: Producer;
const procs: NodeProcess[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  nats = await startTestNats({ partitions: K });
  producer = await startProducer(nats);
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  for (const p of proxies) await p.close();
  await producer?.close();
  await nats?.stop();
});

async function nodeProcess(): Promise<NodeProcess> {
  const p = await startNodeProcess(nats.url, { ...nats.nodeEnv(), STREAM_PARTITIONS: String(K), LOG_LEVEL: "warn" });
  procs.push(p);
  return p;
}

/** Two tenants of every partition, so that every partition has events and a position. */
function tenantsOfEveryPartition(): string[] {
  const byPartition: string[][] = Array.from({ length: K }, () => []);
  for (let n = 0; byPartition.some((list) => list.length < 2); n++) {
    const tenant = `Sp${n}`;
    const list = byPartition[partitionIndex(tenant, K)] as string[];
    if (list.length < 2) list.push(tenant);
  }
  return byPartition.flat();
}

describe("SDK admin client on K=4 partitions", () => {
  it("survives a node SIGKILL and resumes every partition exactly (resume.positions): no loss, no duplicate", async () => {
    const tenants = tenantsOfEveryPartition();
    const [a, b] = [await nodeProcess(), await nodeProcess()];
    const lb = await startTcpProxy([a.port]);
    proxies.push(lb);
    const adminKey = await producer.key({ role: "admin" });

    const events: SmsEvent[] = [];
    const resumed: ResumeSuccess[] = [];
    const failed: ResumeFailure[] = [];
    const client = createClient({ url: `ws://127.0.0.1:${lb.port}/ws`, apiKey: adminKey, WebSocket: WebSocket as never, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    client.on("event", (e) => events.push(e));
    client.on("resumed", (r) => resumed.push(r));
    client.on("resumeFailed", (r) => failed.push(r));
    try {
      await pollUntil(() => client.state === "live", 15_000, "the client live");
      expect(client.positions).toBeUndefined(); // no partition has delivered an event yet

      let n = 0;
      const published: { id: string; tenant: string }[] = [];
      const round = async (prefix: string, rounds: number): Promise<void> => {
        for (let r = 0; r < rounds; r++) {
          for (const tenant of tenants) {
            const id = `${prefix}-${n++}`;
            await publishEvent(producer.nc, { type: "sms_status", messageId: id, tenantId: tenant, appId: "app", status: "sent" });
            published.push({ id, tenant });
          }
        }
      };

      await round("before", 3);
      await pollUntil(() => events.length >= published.length, 10_000, "the events before the crash");
      const before = client.positions;
      expect(before?.map((p) => p.epoch.split("@")[0])).toEqual(Array.from({ length: K }, (_, k) => `p${k}/${K}`));
      expect(client.position).toBeUndefined(); // one position cannot describe K partitions

      a.child.kill("SIGKILL"); // no close frame: the client sees 1006 and keeps reconnecting
      await a.exited;
      await pollUntil(() => client.state !== "live", 10_000, "the client noticing the crash");
      await round("missed", 4); // stored while the client has no socket
      const missed = published.length - events.length;
      lb.setTargets([b.port]);

      await pollUntil(() => resumed.length + failed.length > 0, 15_000, "resumed or resume_failed");
      expect(failed).toEqual([]);
      expect(resumed).toEqual([{ replayed: missed, positions: before }]);
      await round("live", 2);
      await pollUntil(() => events.length >= published.length, 10_000, "every event");

      // Exactly once, and per tenant in publish order (order holds within a partition).
      const ids = events.map((e) => e.messageId);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(published.map((p) => p.id).sort());
      for (const tenant of tenants) {
        expect(events.filter((e) => e.tenantId === tenant).map((e) => e.messageId)).toEqual(published.filter((p) => p.tenant === tenant).map((p) => p.id));
      }
      // The client's positions are each partition stream's last sequence.
      const jsm = await jetstreamManager(producer.admin);
      const lastSeqs = await Promise.all(Array.from({ length: K }, async (_, k) => (await jsm.streams.info(`SMS_EVENTS_${k}`)).state.last_seq));
      expect(client.positions?.map((p) => p.seq)).toEqual(lastSeqs);
    } finally {
      client.close();
    }
  });
});

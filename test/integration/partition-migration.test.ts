/**
 * Migration from the single stream to K partitions (docs/partitioning.md), on a real nats-server
 * reloaded with the mapping: provision the partitions beside SMS_EVENTS, switch the mapping,
 * roll the nodes to STREAM_PARTITIONS=K. Old positions get resume_failed epoch; the old stream
 * keeps its events until it ages out; a node still on K=1 never passes on an event it could not
 * resume (foreign stream: dropped and counted).
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionIndex } from "../../src/bus/partitions.js";
import { provision } from "../../src/bus/provision.js";
import { loadConfig } from "../../src/config/config.js";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats } from "../helpers/harness.js";

const K = 3;
let nats: TestNats;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
});

afterAll(async () => {
  await producer?.close();
  await nats?.stop();
});

/** Run `change` (which reloads the server) and wait until the server has loaded its config again. */
async function reload(change: () => void): Promise<void> {
  const loaded = async (): Promise<string> => ((await (await fetch(`http://127.0.0.1:${nats.monitorPort}/varz`)).json()) as { config_load_time: string }).config_load_time;
  const before = await loaded();
  change();
  await expect.poll(loaded, { timeout: 5000, interval: 20 }).not.toBe(before);
}

const status = (tenantId: string, messageId: string) => publishEvent(producer.nc, { type: "sms_status", messageId, tenantId, appId: "m", status: "sent" });

describe("migration to partitions", () => {
  it("provision beside SMS_EVENTS, switch the mapping, roll the nodes: old positions answer resume_failed epoch, nothing is passed on unresumable", async () => {
    const oldNode = await startTestNode(nats);
    const key = await producer.key({ role: "app", tenantId: "Mt", appId: "m" });
    const before = await TestClient.authed(oldNode.url, key);
    const oldEpoch = before.frames[0]?.epoch as string;
    await status("Mt", "legacy-1");
    await status("Mt", "legacy-2");
    await before.waitForEvents(2);
    const oldSeq = before.events().at(-1)?.seq as number;

    // 1. The users' grants for K partitions (no mapping yet), then the partition streams beside
    //    the single one (which is narrowed so that they do not overlap).
    await reload(() => nats.secure!.reconfigure(K, { mapping: false }));
    const admin = await nats.secure!.connect("admin");
    const config = loadConfig({ STREAM_PARTITIONS: String(K) });
    const steps = await provision(admin, config);
    expect(steps.filter((s) => s.kind === "stream").map((s) => `${s.name} ${s.action}`)).toEqual([
      "SMS_EVENTS updated",
      ...Array.from({ length: K }, (_, k) => `SMS_EVENTS_${k} created`),
    ]);
    // Until the switch, producers still land in SMS_EVENTS.
    expect((await jetstream(producer.nc).publish("in.sms.Mt.m.status", new Uint8Array([0x80]))).stream).toBe("SMS_EVENTS");

    // 2. The switch: the server reloads with the mapping (and the partitions' grants).
    await reload(() => nats.secure!.reconfigure(K));
    const js = jetstream(producer.nc);
    const want = `SMS_EVENTS_${partitionIndex("Mt", K)}`;
    for (let i = 0; (await js.publish("in.sms.Mt.m.status", new Uint8Array([0x80]))).stream !== want; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 25));
    }

    // A node still on K=1 sees the partition's republished events: it drops them (their sequence
    // is not SMS_EVENTS's) instead of handing its clients a position it cannot resume.
    await status("Mt", "after-switch-1");
    await expect.poll(() => metricValue(oldNode.node, "smsws_events_rejected_total", { reason: "foreign_stream" })).toBeGreaterThan(0);
    expect(before.events().map((e) => e.messageId)).toEqual(["legacy-1", "legacy-2"]);
    before.close();
    await oldNode.stop();

    // 3. The nodes roll to STREAM_PARTITIONS=K.
    const newNode = await startTestNode(nats, { STREAM_PARTITIONS: String(K) });
    const back = await TestClient.authed(newNode.url, key, { resume: { epoch: oldEpoch, seq: oldSeq } });
    expect(back.frames[0]?.epoch).toMatch(new RegExp(`^p${partitionIndex("Mt", K)}/${K}@`));
    await back.waitFor((f) => f.type === "resume_failed");
    expect(back.frames[1]).toEqual({ type: "resume_failed", reason: "epoch" });
    // Backfill: the partition from its start (every event since the switch) over history.
    const res = await fetch(`${newNode.http}/v1/events?after=${encodeURIComponent(`${back.frames[0]?.epoch as string}:0`)}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { events: { messageId: string }[] }).events.map((e) => e.messageId)).toEqual(["after-switch-1"]);
    await status("Mt", "after-roll");
    await back.waitForEvents(1);
    expect(back.events().map((e) => e.messageId)).toEqual(["after-roll"]);
    const resumed = await TestClient.authed(newNode.url, key, { resume: { epoch: back.frames[0]?.epoch, seq: 0 } });
    await resumed.waitFor((f) => f.type === "resumed");
    expect(resumed.events().map((e) => e.messageId)).toEqual(["after-switch-1", "after-roll"]);

    // The single stream keeps what it stored until it ages out, then is deleted (by an operator).
    const jsm = await jetstreamManager(admin);
    expect((await jsm.streams.info("SMS_EVENTS")).state.messages).toBeGreaterThanOrEqual(3); // legacy-1, legacy-2, the probes before the switch
    for (const c of [back, resumed]) c.close();
    await newNode.stop();
    await admin.close();
  }, 60_000);
});

/**
 * Issue 19, V-3 and W-6, replayed on a real nats-server running the rendered accounts
 * (src/bus/nats-accounts.ts): nothing a producer, a direct producer or a gateway causes the server
 * to publish lands in a KV bucket or in the event stream.
 *
 * nats-server publishes a JetStream API answer or a publish ack to the request's reply subject
 * without applying the requester's publish deny list. With every user in one account, a reply
 * subject `$KV.<bucket>.<key>` stored the answer in the bucket (a revocation, an overwritten
 * signer, key or quota) and `in.sms.<...>` stored it in SMS_EVENTS. With the accounts, the answer
 * goes back to the requester's own account, where no bucket or stream exists.
 *
 * No sleeps: each attack is followed by a barrier the server orders after it (a second request
 * on the same API subject from the same connection, or a JetStream publish into the same stream
 * whose ack comes after the first one's), then the data is read as admin.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, openBucket } from "../../src/bus/buckets.js";
import { STREAM_NAME } from "../../src/bus/contract.js";
import { DEFAULT_ROLES } from "../../src/bus/permissions.js";
import { provision } from "../../src/bus/provision.js";
import { STREAM_MAX_CONSUMERS } from "../../src/bus/stream.js";
import { loadConfig } from "../../src/config/config.js";
import { hashApiKey } from "../../src/keys/key-record.js";
import { encodeEvent, prepareEvent, publishEvent } from "../../src/publisher/index.js";
import { startSecureNats, type SecureNats } from "../helpers/secure-nats.js";

const BUCKET_NAMES = [BUCKETS.apiKeys, BUCKETS.tokenSigners, BUCKETS.revokedTokens, BUCKETS.tenants] as const;
const REFUSED = /Permissions Violation for Publish/;
const status = (tenantId: string, messageId: string) => ({ type: "sms_status", messageId, tenantId, appId: "a1", status: "sent" });
/** A key an attacker would aim at in each bucket: a key hash, a kid, a jti, a tenant id. */
const victimKey = (bucket: string, tag: string): string => (bucket === BUCKETS.apiKeys ? hashApiKey(`victim-${tag}`) : `victim_${tag}`);

describe("V-3: replies the server publishes for gateway and producers never land in a bucket or the stream", () => {
  let nats: SecureNats;
  let admin: NatsConnection;
  let adminJsm: JetStreamManager;
  let gateway: NatsConnection;
  let producer: NatsConnection;
  let direct: NatsConnection;

  beforeAll(async () => {
    nats = await startSecureNats({ roles: [...DEFAULT_ROLES, "directProducer"] });
    admin = await nats.connect("admin");
    await provision(admin, loadConfig({ NATS_URL: nats.url }));
    adminJsm = await jetstreamManager(admin);
    gateway = await nats.connect("gateway");
    producer = await nats.connect("producer");
    direct = await nats.connect("directProducer");
  });

  afterAll(async () => {
    await Promise.all([admin, gateway, producer, direct].map((nc) => nc?.close()));
    await nats?.stop();
  });

  /** Messages stored in each bucket and the stream's last sequence, read as admin. */
  async function stored(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const b of BUCKET_NAMES) out[b] = (await adminJsm.streams.info(`KV_${b}`)).state.last_seq;
    out[STREAM_NAME] = (await adminJsm.streams.info(STREAM_NAME)).state.last_seq;
    return out;
  }

  async function keyIn(bucket: string, key: string): Promise<boolean> {
    return (await adminJsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` })) !== null;
  }

  /** The gateway's JetStream API answer aimed at a subject, then a barrier request on the same API subject. */
  async function gatewayAnswerTo(reply: string): Promise<void> {
    for (const subject of ["$JS.API.INFO", `$JS.API.STREAM.INFO.${STREAM_NAME}`, `$JS.API.STREAM.INFO.KV_${BUCKETS.tenants}`]) {
      gateway.publish(subject, "", { reply });
      await gateway.request(subject, "", { timeout: 5000 });
    }
  }

  it.each(BUCKET_NAMES)("gateway: JetStream API answers with reply subject $KV.%s.<key> are not stored", async (bucket) => {
    const key = victimKey(bucket, "gateway");
    const before = await stored();
    await gatewayAnswerTo(`$KV.${bucket}.${key}`);
    expect(await keyIn(bucket, key)).toBe(false);
    expect(await stored()).toEqual(before);
  });

  it.each(BUCKET_NAMES)("producer: the publish ack with reply subject $KV.%s.<key> is not stored", async (bucket) => {
    const key = victimKey(bucket, "producer");
    const before = await stored();
    producer.publish(`in.sms.t_v3.a1.status`, encodeEvent(prepareEvent(status("t_v3", `m_${bucket}`))), { reply: `$KV.${bucket}.${key}` });
    // Stored after the attack's event, so acked after it.
    await publishEvent(producer, status("t_v3", `m_${bucket}_barrier`));
    expect(await keyIn(bucket, key)).toBe(false);
    const after = await stored();
    expect(after).toEqual({ ...before, [STREAM_NAME]: before[STREAM_NAME]! + 2 });
  });

  it.each(BUCKET_NAMES)("direct producer: a live publish with reply subject $KV.%s.<key> gets no answer that stores", async (bucket) => {
    // Nothing in GATEWAY answers a live event; a receiver that did (a stolen gateway password)
    // could not publish to `$KV.>`, and GATEWAY has no bucket to store it in anyway.
    const key = victimKey(bucket, "direct");
    const before = await stored();
    const live = gateway.subscribe("sms.t_v3d.>", { max: 2 });
    await gateway.flush();
    direct.publish("sms.t_v3d.a1.status", encodeEvent(prepareEvent(status("t_v3d", `m_${bucket}`))), { reply: `$KV.${bucket}.${key}` });
    direct.publish("sms.t_v3d.a1.status", encodeEvent(prepareEvent(status("t_v3d", `m_${bucket}_barrier`))));
    const seen: (string | undefined)[] = [];
    for await (const m of live) {
      seen.push(m.reply || undefined);
      if (m.reply) m.respond("{}");
    }
    expect(seen).toEqual([`$KV.${bucket}.${key}`, undefined]);
    await gateway.flush();
    expect(await keyIn(bucket, key)).toBe(false);
    expect(await stored()).toEqual(before);
  });

  it("gateway: an answer with reply subject in.sms.<t>.<a>.status is not stored in SMS_EVENTS", async () => {
    const before = await stored();
    await gatewayAnswerTo("in.sms.t_v3.a1.status");
    expect(await stored()).toEqual(before);
  });

  it("producer: an ack with reply subject in.sms.<t>.<a>.status is not stored in SMS_EVENTS (only the two events are)", async () => {
    const before = await stored();
    producer.publish("in.sms.t_v3.a1.status", encodeEvent(prepareEvent(status("t_v3", "m_stream"))), { reply: "in.sms.t_v3.a1.status" });
    await publishEvent(producer, status("t_v3", "m_stream_barrier"));
    expect(await stored()).toEqual({ ...before, [STREAM_NAME]: before[STREAM_NAME]! + 2 });
  });

  it("gateway: a push consumer delivering into a bucket or the stream stores nothing there", async () => {
    const gjsm = await jetstreamManager(gateway, { timeout: 5000 });
    const key = victimKey(BUCKETS.revokedTokens, "push");
    const tenants = `KV_${BUCKETS.tenants}`;
    await (await openBucket(admin, BUCKETS.tenants)).put("t_push", JSON.stringify({ maxConnections: 1 }));
    // Each source stream delivering into the other's subjects (into its own is refused as a cycle).
    const attempts = [
      { stream: STREAM_NAME, deliver_subject: `$KV.${BUCKETS.revokedTokens}.${key}` },
      { stream: tenants, deliver_subject: "in.sms.t_push.a1.status" },
      { stream: STREAM_NAME, deliver_subject: "in.sms.t_push.a1.status" },
      // Deliveries as JetStream API requests inside DATA (the gateway may not send these itself).
      { stream: STREAM_NAME, deliver_subject: `$JS.API.STREAM.PURGE.${tenants}` },
      { stream: tenants, deliver_subject: `$JS.API.STREAM.DELETE.${STREAM_NAME}` },
    ];
    const created: { stream: string; name: string }[] = [];
    for (const { stream, deliver_subject } of attempts) {
      try {
        const ci = await gjsm.consumers.add(stream, { deliver_subject, ack_policy: "none", deliver_policy: "all", inactive_threshold: 30_000_000_000 } as never);
        expect(ci.config.durable_name).toBeUndefined();
        created.push({ stream, name: ci.name });
      } catch (err) {
        // Refused: a cycle (2.9, 2.15), or a JetStream API deliver subject (2.15).
        expect(String(err)).toMatch(/forms a cycle|invalid push consumer deliver subject/);
      }
    }
    expect(created.length).toBeGreaterThanOrEqual(2);
    const before = await stored();
    await publishEvent(producer, status("t_push", "m_push"));
    await gatewayAnswerTo("_INBOX_gateway.barrier");
    expect(await keyIn(BUCKETS.revokedTokens, key)).toBe(false);
    expect(await stored()).toEqual({ ...before, [STREAM_NAME]: before[STREAM_NAME]! + 1 });
    expect(await keyIn(BUCKETS.tenants, "t_push"), "the tenants bucket was not purged").toBe(true);
    expect((await adminJsm.streams.info(STREAM_NAME)).state.messages, "SMS_EVENTS was not deleted").toBeGreaterThan(0);
    for (const c of created) await gjsm.consumers.delete(c.stream, c.name);
  });
});

describe("W-6: the gateway creates ephemeral consumers only, and a stream's consumers are bounded", () => {
  let nats: SecureNats;
  let admin: NatsConnection;
  let gateway: NatsConnection;

  beforeAll(async () => {
    nats = await startSecureNats();
    admin = await nats.connect("admin");
    await provision(admin, loadConfig({ NATS_URL: nats.url }));
    gateway = await nats.connect("gateway");
  });

  afterAll(async () => {
    await Promise.all([admin, gateway].map((nc) => nc?.close()));
    await nats?.stop();
  });

  it("refuses a durable consumer in every create form", async () => {
    const ajsm = await jetstreamManager(admin);
    const consumersBefore = (await ajsm.streams.info(STREAM_NAME)).state.consumer_count;
    const gjsm = await jetstreamManager(gateway, { timeout: 5000 });
    // Through the client (its connection uses the legacy create subject): the server refuses.
    await expect(gjsm.consumers.add(STREAM_NAME, { durable_name: "evil_durable", ack_policy: "none" } as never)).rejects.toThrow(/expected to be ephemeral/);
    // The named and the durable forms, sent raw (a connection without the node's rewrite): refused.
    const raw = await connect(nats.options("gateway", { reconnect: false }));
    const body = JSON.stringify({ stream_name: STREAM_NAME, config: { durable_name: "evil_raw", name: "evil_raw", ack_policy: "none" } });
    for (const subject of [`$JS.API.CONSUMER.CREATE.${STREAM_NAME}.evil_raw`, `$JS.API.CONSUMER.CREATE.${STREAM_NAME}.evil_raw.in.sms.>`, `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM_NAME}.evil_raw`]) {
      await expect(raw.request(subject, body, { timeout: 5000 }), subject).rejects.toThrow(REFUSED);
    }
    await raw.close();
    expect((await ajsm.streams.info(STREAM_NAME)).state.consumer_count).toBe(consumersBefore);
  });

  it(`caps the stream at ${STREAM_MAX_CONSUMERS} consumers: the next one is refused with the server's error`, { timeout: 120_000 }, async () => {
    const ajsm = await jetstreamManager(admin);
    expect((await ajsm.streams.info(STREAM_NAME)).config.max_consumers).toBe(STREAM_MAX_CONSUMERS);
    expect((await ajsm.getAccountInfo()).limits.max_consumers).toBe(STREAM_MAX_CONSUMERS);
    const gjsm = await jetstreamManager(gateway, { timeout: 10_000 });
    const create = (i: number) => gjsm.consumers.add(STREAM_NAME, { name: `fill_${i}`, ack_policy: "none", inactive_threshold: 120_000_000_000 } as never);
    const existing = (await ajsm.streams.info(STREAM_NAME)).state.consumer_count;
    const want = STREAM_MAX_CONSUMERS - existing;
    for (let i = 0; i < want; i += 64) await Promise.all(Array.from({ length: Math.min(64, want - i) }, (_, j) => create(i + j)));
    expect((await ajsm.streams.info(STREAM_NAME)).state.consumer_count).toBe(STREAM_MAX_CONSUMERS);
    await expect(create(want)).rejects.toThrow(/maximum consumers limit reached/);
    for (let i = 0; i < want; i += 64) await Promise.all(Array.from({ length: Math.min(64, want - i) }, (_, j) => gjsm.consumers.delete(STREAM_NAME, `fill_${i + j}`)));
    expect((await ajsm.streams.info(STREAM_NAME)).state.consumer_count).toBe(existing);
  });
});

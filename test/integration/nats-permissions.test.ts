/**
 * NATS least privilege, proven on a real nats-server running exactly the authorization block
 * rendered from src/bus/permissions.ts: each role can do its job with the real client code
 * (provisioning, KeyStore, StreamReader, the publisher) and nothing the matrix denies. The
 * reproduced attack (one core publish of {"role":"admin"} to `$KV.sms_api_keys.<hash>`) is
 * refused for every role but admin, and the refusals are checked on the server's answer
 * (permission violations), on the data (values unchanged) and on the subscribers (nothing seen).
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connect, errors, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKET_MAX_CONSUMERS, BUCKETS, openBucket } from "../../src/bus/buckets.js";
import { decodeBusEvent, type DecodedEvent } from "../../src/bus/event-decoder.js";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { PERMISSIONS, permits } from "../../src/bus/permissions.js";
import { ensureStream, STREAM_MAX_CONSUMERS, streamInfo } from "../../src/bus/stream.js";
import { provision, type ProvisionStep } from "../../src/bus/provision.js";
import { loadConfig, type Config } from "../../src/config/config.js";
import { createKey, revokeKey } from "../../src/keys/key-admin.js";
import { hashApiKey } from "../../src/keys/key-record.js";
import { KeyStore } from "../../src/keys/key-store.js";
import { publishEvent } from "../../src/publisher/index.js";
import { StreamReader } from "../../src/resume/stream-reader.js";
import { Violations } from "../helpers/nats-violations.js";
import { STREAM_NAME } from "../../src/bus/contract.js";
import { startSecureNats, type SecureNats } from "../helpers/secure-nats.js";

const TTL_S = 3600;
const run = promisify(execFile);
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const silent = pino({ level: "silent" });
/** How a refused request fails (a RequestError carrying the server's permission violation). */
const REFUSED = /Permissions Violation for Publish/;
const ADMIN_RECORD = JSON.stringify({ role: "admin", createdAt: "2026-01-01T00:00:00.000Z" });

/** Decoded live events a subscription receives, in order. */
function collect(sub: Subscription): { events: DecodedEvent[]; next(): Promise<DecodedEvent> } {
  const events: DecodedEvent[] = [];
  const waiters: ((e: DecodedEvent) => void)[] = [];
  void (async () => {
    for await (const m of sub) {
      const seq = m.headers?.get("Nats-Sequence");
      const decoded = decodeBusEvent(m.subject, m.data, seq ? Number(seq) : undefined);
      events.push(decoded);
      waiters.shift()?.(decoded);
    }
  })();
  let read = 0;
  return {
    events,
    next: () => {
      const i = read++;
      const have = events[i];
      return have ? Promise.resolve(have) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

const status = (tenantId: string, appId: string, messageId: string) => ({ type: "sms_status", messageId, tenantId, appId, status: "sent" });

describe("NATS permissions: each role can do its job and nothing more", () => {
  let nats: SecureNats;
  let config: Config;
  let admin: NatsConnection;
  let producer: NatsConnection;
  let gateway: NatsConnection;
  let gatewayViolations: Violations;
  let producerViolations: Violations;
  let firstRun: ProvisionStep[];

  beforeAll(async () => {
    nats = await startSecureNats();
    config = loadConfig({ NATS_URL: nats.url, TOKEN_MAX_TTL_S: String(TTL_S) });
    admin = await nats.connect("admin");
    firstRun = await provision(admin, config);
    producer = await nats.connect("producer");
    producerViolations = new Violations(producer);
    gateway = await nats.connect("gateway");
    gatewayViolations = new Violations(gateway);
  });

  afterAll(async () => {
    await Promise.all([admin, producer, gateway].map((nc) => nc?.close()));
    await nats?.stop();
  });

  // ---- anonymous ------------------------------------------------------------------------------

  it("refuses a client without credentials, with a wrong password, or with another role's password", async () => {
    const opts = { servers: nats.url, reconnect: false, timeout: 5000 };
    await expect(connect(opts)).rejects.toBeInstanceOf(errors.AuthorizationError);
    await expect(connect({ ...opts, user: "gateway", pass: "x".repeat(48) })).rejects.toBeInstanceOf(errors.AuthorizationError);
    await expect(connect({ ...opts, user: "admin", pass: nats.credentials.gateway!.pass })).rejects.toBeInstanceOf(errors.AuthorizationError);
    expect(nats.configText).not.toMatch(/^\s*no_auth_user\s*[:=]/m);
  });

  // ---- admin ----------------------------------------------------------------------------------

  it("admin provisions the stream and the four buckets, idempotently, and updates changed limits", async () => {
    expect(firstRun.map((s) => [s.kind, s.name, s.action])).toEqual([
      ["stream", STREAM_NAME, "created"],
      ["bucket", BUCKETS.apiKeys, "created"],
      ["bucket", BUCKETS.tokenSigners, "created"],
      ["bucket", BUCKETS.revokedTokens, "created"],
      ["bucket", BUCKETS.tenants, "created"],
    ]);
    const again = await provision(admin, config);
    expect(again.map((s) => s.action)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged", "unchanged"]);

    const jsm = await jetstreamManager(admin);
    expect((await jsm.streams.info(`KV_${BUCKETS.revokedTokens}`)).config.max_age).toBe(TTL_S * 1e9);
    expect((await jsm.streams.info(`KV_${BUCKETS.apiKeys}`)).config.max_age).toBe(0);

    const longer = loadConfig({ NATS_URL: nats.url, STREAM_MAX_AGE_S: "172800", TOKEN_MAX_TTL_S: String(TTL_S * 2) });
    const changed = await provision(admin, longer);
    expect(changed.map((s) => [s.name, s.action])).toEqual([
      [STREAM_NAME, "updated"],
      [BUCKETS.apiKeys, "unchanged"],
      [BUCKETS.tokenSigners, "unchanged"],
      [BUCKETS.revokedTokens, "updated"],
      [BUCKETS.tenants, "unchanged"],
    ]);
    expect((await jsm.streams.info(STREAM_NAME)).config.max_age).toBe(172800 * 1e9);
    await provision(admin, config); // back to the suite's limits
  });

  it("`sms-ws provision` runs as admin and reports each resource; the gateway's credentials are refused", async () => {
    const env = (role: "admin" | "gateway") => ({
      ...process.env,
      NATS_URL: nats.url,
      NATS_USER: nats.credentials[role]!.user,
      NATS_PASSWORD: nats.credentials[role]!.pass,
      TOKEN_MAX_TTL_S: String(TTL_S),
      LOG_LEVEL: "silent",
    });
    const { stdout } = await run(process.execPath, [CLI, "provision"], { env: env("admin") });
    // nats-server 2.9 cannot set a bucket's max_consumers after Kvm.create: the account's cap bounds it.
    const [major = 0, minor = 0] = (admin.info?.version ?? "0.0").split(".").map(Number);
    const bucketCap = major > 2 || minor >= 10 ? String(BUCKET_MAX_CONSUMERS) : "account cap";
    expect(stdout.trim().split("\n")).toEqual([
      expect.stringMatching(new RegExp(`^stream SMS_EVENTS: unchanged \\(replicas 1, max age 86400 s, .*max consumers ${STREAM_MAX_CONSUMERS}\\)$`)),
      `bucket ${BUCKETS.apiKeys}: unchanged (replicas 1, ttl none, max consumers ${bucketCap})`,
      `bucket ${BUCKETS.tokenSigners}: unchanged (replicas 1, ttl none, max consumers ${bucketCap})`,
      `bucket ${BUCKETS.revokedTokens}: unchanged (replicas 1, ttl ${TTL_S} s, max consumers ${bucketCap})`,
      `bucket ${BUCKETS.tenants}: unchanged (replicas 1, ttl none, max consumers ${bucketCap})`,
    ]);
    const denied = run(process.execPath, [CLI, "provision"], { env: { ...env("gateway"), STREAM_MAX_AGE_S: "60" } });
    await expect(denied).rejects.toMatchObject({ stderr: expect.stringMatching(/Permissions Violation/) });
    const printed = await run(process.execPath, [CLI, "provision", "--print-nats-config"], { env: { ...process.env, NATS_URL: "nats://127.0.0.1:1" } });
    expect(printed.stdout).toBe(renderAuthorization());
  });

  it("admin cannot delete or purge the stream, nor publish events", async () => {
    const jsm = await jetstreamManager(admin, { timeout: 5000 });
    await expect(jsm.streams.delete(STREAM_NAME)).rejects.toThrow(REFUSED);
    await expect(jsm.streams.purge(STREAM_NAME)).rejects.toThrow(REFUSED);
    await expect(publishEvent(admin, status("t1", "a1", "m_admin"), { timeoutMs: 5000 })).rejects.toThrow(REFUSED);
    expect(await streamInfo(admin)).not.toBeNull();
  });

  // ---- producer -------------------------------------------------------------------------------

  it("producer publishes durable events and gets JetStream acks; the gateway receives them live with their seq", async () => {
    const live = collect(gateway.subscribe("sms.t_ack.>"));
    await gateway.flush();
    const published = await publishEvent(producer, status("t_ack", "a1", "m_ack"));
    expect(published.seq).toBeGreaterThan(0);
    const got = await live.next();
    expect(got.event.eventId).toBe(published.event.eventId);
    expect(got.event.seq).toBe(published.seq);
  });

  it("producer cannot write a key: the raw $KV publish and kv.put are refused and the value is unchanged", async () => {
    const hash = hashApiKey("attacker-chosen-key");
    const subject = `$KV.${BUCKETS.apiKeys}.${hash}`;
    producer.publish(subject, ADMIN_RECORD);
    const refused = await producerViolations.next("publish", subject);
    expect(refused.message).toMatch(/Permissions Violation for Publish/);

    // Even binding to the bucket is refused (its status read), and a put through a bare bind too.
    await expect(openBucket(producer, BUCKETS.apiKeys)).rejects.toThrow(REFUSED);
    const kv = await new Kvm(producer).open(BUCKETS.apiKeys);
    await expect(kv.put(hash, ADMIN_RECORD)).rejects.toThrow(REFUSED);
    expect(await (await openBucket(admin, BUCKETS.apiKeys)).get(hash)).toBeNull();
    expect(permits(PERMISSIONS.producer.publish, subject)).toBe(false);
  });

  it("producer cannot create, update or delete streams, nor read one", async () => {
    const jsm = await jetstreamManager(producer, { checkAPI: false, timeout: 5000 });
    await expect(jsm.streams.add({ name: "EVIL", subjects: ["evil.>"] })).rejects.toThrow(REFUSED);
    await expect(jsm.streams.delete(STREAM_NAME)).rejects.toThrow(REFUSED);
    await expect(jsm.streams.info(STREAM_NAME)).rejects.toThrow(REFUSED);
    await expect(jsm.streams.update(STREAM_NAME, { max_age: 1e9 })).rejects.toThrow(REFUSED);
    expect((await streamInfo(admin))?.config.max_age).toBe(config.streamMaxAgeS * 1e9);
  });

  it("producer cannot subscribe to live events, nor to another role's inbox", async () => {
    for (const subject of ["sms.>", "sms.t1.a1.status", "_INBOX_gateway.>", "_INBOX_admin.>", "$KV.>"]) {
      const sub = producer.subscribe(subject);
      expect(await sub.closed).toBeInstanceOf(errors.PermissionViolationError);
      await producerViolations.next("subscription", subject);
    }
  });

  it("producer cannot use the direct path by default: a forged live event reaches no subscriber", async () => {
    const live = collect(gateway.subscribe("sms.t_direct.>"));
    await gateway.flush();
    await expect(publishEvent(producer, status("t_direct", "a1", "m_forged"), { direct: true })).resolves.toBeDefined();
    await producerViolations.next("publish", "sms.t_direct.a1.status");
    // The next event on the subject is the durable one published after the refusal.
    const barrier = await publishEvent(producer, status("t_direct", "a1", "m_barrier"));
    const first = await live.next();
    expect(first.event.eventId).toBe(barrier.event.eventId);
    expect(live.events).toHaveLength(1);
  });

  // ---- gateway --------------------------------------------------------------------------------

  it("gateway loads and watches the key bucket: a new key appears, a revocation is seen", async () => {
    const adminKeys = await openBucket(admin, BUCKETS.apiKeys);
    const before = await createKey(adminKeys, { role: "app", tenantId: "t1", appId: "a1" });
    const store = new KeyStore(await openBucket(gateway, BUCKETS.apiKeys), silent);
    try {
      await store.start();
      expect(store.lookup(before.apiKey)?.record).toMatchObject({ role: "app", tenantId: "t1" });
      const revoked = new Promise<string>((resolve) => store.on((e) => e.type === "revoked" && resolve(e.hash)));
      await revokeKey(adminKeys, before.apiKey);
      expect(await revoked).toBe(before.keyHash);
      const after = await createKey(adminKeys, { role: "admin" });
      await new Promise<void>((resolve) => {
        if (store.has(after.keyHash)) return resolve();
        store.on(() => store.has(after.keyHash) && resolve());
      });
      expect(store.lookup(after.apiKey)?.record.role).toBe("admin");
    } finally {
      store.stop();
    }
  });

  it("gateway gets and watches every bucket, through JetStream flow control", async () => {
    const tenants = await openBucket(admin, BUCKETS.tenants);
    // Enough data that the ordered push consumer behind watch() asks for flow-control replies
    // (`$JS.FC.KV_<bucket>.>`); without that right the watch stalls after a few values.
    const big = JSON.stringify({ maxConnections: 10, pad: "x".repeat(900_000) });
    const count = 8;
    for (let i = 0; i < count; i++) await tenants.put(`tenant_${i}`, big);
    for (const name of Object.values(BUCKETS)) {
      const kv = await openBucket(gateway, name);
      expect(await kv.get("absent")).toBeNull();
      const w = await kv.watch();
      w.stop();
    }
    const kv = await openBucket(gateway, BUCKETS.tenants);
    expect((await kv.get("tenant_0"))?.string()).toBe(big);
    const watcher = await kv.watch();
    let seen = 0;
    for await (const e of watcher) {
      expect(e.key).toBe(`tenant_${seen}`);
      if (++seen === count) break;
    }
    expect(gatewayViolations.seen.filter((v) => v.subject.startsWith("$JS.FC."))).toEqual([]);
  });

  it("gateway reads SMS_EVENTS from a start sequence through ephemeral consumers, and its stream info", async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push((await publishEvent(producer, status("t_read", "a1", `m_read_${i}`))).seq!);
    await publishEvent(producer, status("t_other", "a1", "m_other"));
    const reader = new StreamReader(gateway);
    expect(await reader.lastSequence()).toBeGreaterThanOrEqual(seqs[4]!);
    const result = await reader.read(["sms.t_read.a1.*"], seqs[1]!, 100);
    expect(result.type).toBe("events");
    if (result.type !== "events") return;
    expect(result.events.map((e) => e.event.seq)).toEqual(seqs.slice(2));
    expect(result.events.map((e) => e.event.messageId)).toEqual(["m_read_2", "m_read_3", "m_read_4"]);
    const everything = await reader.read(["sms.>"], 0, 1000);
    expect(everything.type).toBe("events");
    expect((await streamInfo(gateway))?.config.name).toBe(STREAM_NAME);
    // Direct get (history lookups) is read-only and allowed.
    const jsm = await jetstreamManager(gateway);
    expect((await jsm.direct.getMessage(STREAM_NAME, { seq: seqs[0]! }))?.seq).toBe(seqs[0]);
  });

  it("gateway cannot publish an event, live or durable: subscribers and the stream see nothing", async () => {
    const watcher = await nats.connect("gateway");
    try {
      const live = collect(watcher.subscribe("sms.t_forge.>"));
      await watcher.flush();
      const lastBefore = (await streamInfo(admin))!.state.last_seq;

      gateway.publish("sms.t_forge.a1.status", new Uint8Array([0x80]));
      await gatewayViolations.next("publish", "sms.t_forge.a1.status");
      await expect(publishEvent(gateway, status("t_forge", "a1", "m_forged"), { timeoutMs: 5000 })).rejects.toThrow(REFUSED);
      await gatewayViolations.next("publish", "in.sms.t_forge.a1.status");
      expect((await streamInfo(admin))!.state.last_seq).toBe(lastBefore);

      const barrier = await publishEvent(producer, status("t_forge", "a1", "m_barrier"));
      expect((await live.next()).event.eventId).toBe(barrier.event.eventId);
      expect(live.events).toHaveLength(1);
    } finally {
      await watcher.close();
    }
  });

  it("gateway cannot write a key, not even by answering a request it sent itself", async () => {
    const hash = hashApiKey("gateway-chosen-key");
    const subject = `$KV.${BUCKETS.apiKeys}.${hash}`;
    gateway.publish(subject, ADMIN_RECORD);
    await gatewayViolations.next("publish", subject);
    const kv = await openBucket(gateway, BUCKETS.apiKeys);
    await expect(kv.put(hash, ADMIN_RECORD)).rejects.toThrow(REFUSED);
    await expect(kv.delete(hashApiKey("any"))).rejects.toThrow(REFUSED);

    // With nats-server's allow_responses this would store the key (in one account): the gateway
    // may publish and subscribe on the fleet counts, so it could send itself a request whose
    // reply subject is the key and answer it. No role has allow_responses.
    const loop = "sms-ws.fleet.counts.loop";
    const answered = new Promise<void>((resolve) => {
      gateway.subscribe(loop, {
        max: 1,
        callback: (_err, m: Msg) => {
          m.respond(ADMIN_RECORD);
          resolve();
        },
      });
    });
    gateway.publish(loop, "", { reply: subject });
    await answered;
    await gatewayViolations.next("publish", subject);
    expect(await (await openBucket(admin, BUCKETS.apiKeys)).get(hash)).toBeNull();
  });

  it("gateway cannot create, update or delete a stream or bucket", async () => {
    const jsm: JetStreamManager = await jetstreamManager(gateway, { timeout: 5000 });
    await expect(jsm.streams.add({ name: "EVIL", subjects: ["evil.>"] })).rejects.toThrow(REFUSED);
    await expect(jsm.streams.delete(STREAM_NAME)).rejects.toThrow(REFUSED);
    await expect(jsm.streams.purge(`KV_${BUCKETS.apiKeys}`)).rejects.toThrow(REFUSED);
    // What the node does at start today: ensureStream updates a stream whose limits differ.
    const other = loadConfig({ NATS_URL: nats.url, STREAM_MAX_AGE_S: "60" });
    await expect(ensureStream(gateway, other)).rejects.toThrow(REFUSED);
    expect((await streamInfo(admin))?.config.max_age).toBe(config.streamMaxAgeS * 1e9);
    expect(permits(PERMISSIONS.gateway.publish, `$JS.API.STREAM.CREATE.${STREAM_NAME}`)).toBe(false);
  });

  it("gateway answers the admin's fleet requests through the mapped reply only, and sends none itself", async () => {
    const seen: string[] = [];
    const service = gateway.subscribe("$SRV.PING.sms-ws-gateway", {
      callback: (_e, m) => {
        seen.push(m.reply ?? "");
        m.respond("pong");
      },
    });
    const conns = gateway.subscribe("sms-ws.fleet.conns", {
      callback: (_e, m) => {
        seen.push(m.reply ?? "");
        m.respond("a");
        m.respond("b");
      },
    });
    await gateway.flush();
    const reply = await admin.request("$SRV.PING.sms-ws-gateway", "", { timeout: 5000 });
    expect(reply.string()).toBe("pong");
    // Several answers to one request (conns in chunks, every node): the export's streamed response type.
    const answers: string[] = [];
    for await (const m of await admin.requestMany("sms-ws.fleet.conns", "{}", { maxMessages: 2, maxWait: 5000 })) answers.push(m.string());
    expect(answers).toEqual(["a", "b"]);
    // The node sees the account boundary's mapped reply subject, never the admin's inbox.
    expect(seen).toHaveLength(2);
    for (const r of seen) expect(r).toMatch(/^_R_\./);
    service.unsubscribe();
    conns.unsubscribe();

    for (const subject of ["_INBOX.>", "_INBOX_admin.>"]) {
      const sub = gateway.subscribe(subject);
      expect(await sub.closed).toBeInstanceOf(errors.PermissionViolationError);
      await gatewayViolations.next("subscription", subject);
    }
    // Neither an answer straight to an inbox, nor a fleet request of its own.
    for (const subject of ["_INBOX.stolen", "_INBOX_admin.forged", "sms-ws.fleet.kick", "sms-ws.fleet.conns", "sms-ws.fleet.stats", "$SRV.PING.sms-ws-gateway"]) {
      gateway.publish(subject, "{}");
      await gatewayViolations.next("publish", subject);
    }
  });
});

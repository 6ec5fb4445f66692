/**
 * Hostile producers: random and adversarial bus payloads and subjects, seeded, on the direct path
 * (core NATS to sms.*) and the durable path (JetStream to in.sms.*, republished to sms.*), with
 * valid events interleaved. App sockets of several tenants and admin sockets watch.
 *
 * Asserted: the node never crashes (/healthz); no socket ever receives an event outside its scope
 * (every frame checked with scopeAllows); every valid event reaches exactly the sockets in scope,
 * once; no invalid payload ever reaches a socket; the rejected counter grows for every reason;
 * no prototype pollution; delivered frames carry exactly the documented fields.
 *
 * Reproduce with PRODUCER_SEED=<seed> (printed at the start and in failures); PRODUCER_CASES
 * (default 3000) bounds it.
 */
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { pack, Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scopeAllows, type Scope } from "../../src/scope/scope.js";
import { TestClient, type Frame } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { bytes, int, pick, seededRandom, type Rng } from "../helpers/random.js";
import { recordFaults } from "./report.js";

const SEED = process.env.PRODUCER_SEED ? Number(process.env.PRODUCER_SEED) : Math.floor(Math.random() * 2 ** 31);
const CASES = Number(process.env.PRODUCER_CASES ?? 3000);
/** nats-server's default max_payload is 1 MiB. */
const NEAR_MAX_PAYLOAD = 1024 * 1024 - 2048;

let nats: TestNats;
let node: TestNode;
let producer: Producer;
let hostile: NatsConnection;
let js: JetStreamClient;
let jsHostile: JetStreamClient;

const TENANTS = ["t1", "t2", "t3"];
const APPS = ["a1", "a2"];

interface Watcher {
  scope: Scope;
  client: TestClient;
}
const watchers: Watcher[] = [];

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  // Hostile producers here hold every publish right (the worst case): an open server.
  nats = await startTestNats({ secure: false });
  node = await startTestNode(nats);
  producer = await startProducer(nats);
  hostile = await connect({ servers: nats.url, name: "hostile-producer", maxReconnectAttempts: -1 });
  js = jetstream(producer.nc);
  jsHostile = jetstream(hostile);
  const scopes: Scope[] = [{ role: "admin" }, { role: "admin" }];
  for (const tenantId of TENANTS) for (const appId of APPS) scopes.push({ role: "app", tenantId, appId });
  scopes.push({ role: "app", tenantId: "t1", appId: "a1" });
  for (const scope of scopes) {
    const key = await producer.key(scope.role === "admin" ? { role: "admin" } : { role: "app", tenantId: scope.tenantId, appId: scope.appId });
    watchers.push({ scope, client: await TestClient.authed(node.url, key) });
  }
});

afterAll(async () => {
  for (const w of watchers) w.client.close();
  await node?.stop();
  await hostile?.close();
  await producer?.close();
  await nats?.stop();
});


type Ev = Record<string, unknown>;

/** A valid event and its live subject tokens. */
function validEvent(r: Rng, eventId: string): { ev: Ev; tenantId: string; appToken: string; kind: "status" | "inbound" } {
  const tenantId = pick(r, [...TENANTS, "t9"]);
  const kind = r() < 0.6 ? "status" : "inbound";
  const appToken = kind === "inbound" && r() < 0.3 ? "_" : pick(r, [...APPS, "a9"]);
  const timestamp = new Date().toISOString();
  const ev: Ev =
    kind === "status"
      ? { type: "sms_status", eventId, messageId: `m-${eventId}`, appId: appToken, tenantId, status: pick(r, ["queued", "sent", "délivré", "x"]), timestamp }
      : {
          type: "sms_inbound",
          eventId,
          messageId: `m-${eventId}`,
          from: "+15550000000",
          to: "+15551111111",
          body: pick(r, ["hi", "", "🔥 unicode ✓", "x".repeat(int(r, 0, 2000))]),
          tenantId,
          ...(appToken === "_" ? {} : { appId: appToken }),
          timestamp,
        };
  if (r() < 0.2) ev.rcMessageId = `rc-${eventId}`;
  return { ev, tenantId, appToken, kind };
}

/** Minimal MessagePack writer for what msgpackr cannot be made to emit (raw keys, duplicates). */
function mpStr(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s) : s;
  if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
  if (b.length < 256) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
  const h = Buffer.alloc(3);
  h[0] = 0xda;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}
function mpMap(entries: [Buffer, Buffer][]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flat()]);
}
function mpMapOf(ev: Ev, extra: [Buffer, Buffer][] = []): Buffer {
  return mpMap([...Object.entries(ev).map(([k, v]): [Buffer, Buffer] => [mpStr(k), Buffer.from(pack(v))]), ...extra]);
}

type Expectation =
  /** Must reach exactly the sockets in scope of (tenantId, appToken). */
  | { type: "valid"; eventId: string; tenantId: string; appToken: string }
  /** Must reach no socket (its eventId, if any, starts with "bad-"). */
  | { type: "invalid"; reason: string }
  /** Either rejected or delivered, but if delivered, only in scope and to all of it. */
  | { type: "ambiguous"; eventId: string; tenantId: string; appToken: string; reason: string };

interface Message {
  path: "direct" | "durable";
  /** Live-subject tokens after the prefix, e.g. "t1.a1.status". */
  tokens: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  expect: Expectation;
  index: number;
}

function generate(r: Rng, i: number): Message {
  const path = r() < 0.5 ? "direct" : "durable";
  const v = validEvent(r, `ok-${SEED}-${i}`);
  const tokens = `${v.tenantId}.${v.appToken}.${v.kind}`;
  const bad = (reason: string, data: Uint8Array, t = tokens): Message => ({ path, tokens: t, data, index: i, expect: { type: "invalid", reason } });
  const badEv = (): Ev => ({ ...v.ev, eventId: `bad-${SEED}-${i}` });
  const ambiguous = (reason: string, data: Uint8Array): Message => ({
    path,
    tokens,
    data,
    index: i,
    expect: { type: "ambiguous", eventId: v.ev.eventId as string, tenantId: v.tenantId, appToken: v.appToken, reason },
  });
  const valid = (data: Uint8Array, headers?: MsgHdrs): Message => ({
    path,
    tokens,
    data,
    index: i,
    ...(headers === undefined ? {} : { headers }),
    expect: { type: "valid", eventId: v.ev.eventId as string, tenantId: v.tenantId, appToken: v.appToken },
  });
  const otherTenant = pick(r, [...TENANTS, "t9"].filter((t) => t !== v.tenantId));
  const otherApp = pick(r, [...APPS, "a9", "_"].filter((a) => a !== v.appToken));
  const otherKind = v.kind === "status" ? "inbound" : "status";
  const required = Object.keys(v.ev).filter((k) => k !== "rcMessageId" && k !== "appId" && k !== "body");
  const variants: [number, () => Message][] = [
    [15, () => valid(pack(v.ev))],
    [4, () => valid(pack({ ...v.ev, extra: "x", seq: 999_999_999, nested: { deep: [1, { a: 2 }] }, rcMessageId: null }))],
    [2, () => valid(pack(v.ev), garbageHeaders(r))],
    [6, () => bad("random bytes", bytes(r, int(r, 0, 3000)))],
    [
      5,
      () => {
        const full = pack(badEv());
        return bad("truncated", full.subarray(0, int(r, 0, full.length - 1)));
      },
    ],
    [5, () => bad("wrong shape", pack(pick(r, [[badEv()], "sms_status", 42, null, true, -1.5, Buffer.from("x"), [], {}])))],
    [3, () => bad("nested map in id", pack({ ...badEv(), tenantId: { tenantId: v.tenantId } }))],
    [5, () => bad("number where a string goes", pack({ ...badEv(), [pick(r, required.filter((k) => k !== "eventId"))]: int(r, -1e9, 1e9) }))],
    [
      5,
      () => {
        const e = badEv();
        delete e[pick(r, required.filter((k) => k !== "eventId"))];
        return bad("missing field", pack(e));
      },
    ],
    [4, () => bad("tenantId mismatching the subject", pack(badEv()), `${otherTenant}.${v.appToken}.${v.kind}`)],
    [4, () => bad("appId mismatching the subject", pack(badEv()), `${v.tenantId}.${otherApp}.${v.kind}`)],
    [4, () => bad("type mismatching the kind", pack(badEv()), `${v.tenantId}.${v.appToken}.${otherKind}`)],
    [2, () => bad("status on the tenant-wide token", pack({ ...badEv(), type: "sms_status", appId: "_", status: "sent" }), `${v.tenantId}._.status`)],
    [2, () => bad("unknown type", pack({ ...badEv(), type: pick(r, ["sms_other", "", "SMS_STATUS", "__proto__"]) }))],
    [2, () => bad("invalid id chars", pack({ ...badEv(), tenantId: pick(r, ["té", "t 1", "t.1", "*", ">", "x".repeat(65)]) }))],
    [1, () => bad("huge string near max payload", pack({ ...badEv(), tenantId: "x".repeat(NEAR_MAX_PAYLOAD) }))],
    [1, () => bad("huge garbage near max payload", bytes(r, NEAR_MAX_PAYLOAD))],
    [2, () => bad("timestamp as ext -1 (Date)", pack({ ...badEv(), timestamp: new Date() }))],
    // msgpackr knows some ext types (Set, Error, RegExp, typed arrays...): in an extra field, the
    // event may decode and is then valid (extras are dropped); in timestamp, it cannot be a string.
    [2, () => ambiguous("ext type in an extra field", mpMapOf(v.ev, [[mpStr("x"), Buffer.from([0xd4, int(r, 1, 127), int(r, 0, 255)])]]))],
    [1, () => ambiguous("ext type as timestamp", mpMapOf({ ...v.ev, timestamp: undefined }, [[mpStr("timestamp"), Buffer.from([0xd5, int(r, 1, 127), int(r, 0, 255), int(r, 0, 255)])]]))],
    [1, () => bad("uint64 eventId", mpMapOf({ ...badEv(), eventId: undefined }, [[mpStr("eventId"), Buffer.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]]))],
    [2, () => bad("100k nested arrays", Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([0xc0])]))],
    [2, () => bad("deeply nested field", mpMapOf(badEv(), [[mpStr("body"), Buffer.concat([Buffer.alloc(50_000, 0x81), Buffer.alloc(1)])]]))],
    [1, () => bad("map with non-string keys", Buffer.from([0x82, 0x01, 0xa1, 0x78, 0x81, 0x01, 0x02, 0xa1, 0x79]))],
    [
      3,
      () =>
        ambiguous(
          "prototype-pollution keys",
          mpMapOf(v.ev, [
            [mpStr("__proto__"), Buffer.from(pack({ polluted: "yes", tenantId: otherTenant }))],
            [mpStr("constructor"), Buffer.from(pack({ prototype: { polluted: "yes" } }))],
            [mpStr("prototype"), Buffer.from(pack({ polluted: "yes" }))],
          ]),
        ),
    ],
    [
      2,
      () =>
        // The first tenantId is another tenant; the last (which decoders keep) is the subject's.
        ambiguous("duplicate keys", mpMap([[mpStr("tenantId"), mpStr(otherTenant)], ...Object.entries(v.ev).map(([k, x]): [Buffer, Buffer] => [mpStr(k), Buffer.from(pack(x))])])),
    ],
    [2, () => ambiguous("records extension", new Packr({ useRecords: true }).pack(v.ev))],
    [1, () => ambiguous("invalid UTF-8 in a string", mpMapOf({ ...v.ev, messageId: undefined }, [[mpStr("messageId"), mpStr(Buffer.from([0x6d, 0xff, 0xfe, 0xed, 0xa0, 0x80]))]]))],
    [
      6,
      () => {
        // Odd subjects. The payload otherwise matches its tokens, so only the subject is wrong.
        const t = pick(r, [
          `${tokens}.extra`,
          `${v.tenantId}.${v.appToken}.bogus`,
          `${v.tenantId}.${v.appToken}`,
          `${v.tenantId}`,
          `${"x".repeat(65)}.${v.appToken}.${v.kind}`,
          `${"y".repeat(int(r, 200, 5000))}.${v.appToken}.${v.kind}`,
          `té.${v.appToken}.${v.kind}`,
          `${v.tenantId}.${v.appToken}.STATUS`,
          `${v.tenantId}.${v.appToken}.${v.kind}.${"z".repeat(300)}`,
          `${v.tenantId}..${v.kind}`,
          `.${v.tenantId}.${v.appToken}.${v.kind}`,
          `${v.tenantId}.${v.appToken}.${v.kind}.`,
          `${v.tenantId}.*.${v.kind}`,
          `${v.tenantId}.>`,
          `${v.tenantId}.${v.appToken}.${v.kind} x`,
          `🔥.${v.appToken}.${v.kind}`,
        ]);
        return bad("odd subject", pack(badEv()), t);
      },
    ],
  ];
  const total = variants.reduce((s, [w]) => s + w, 0);
  let x = r() * total;
  for (const [w, make] of variants) {
    x -= w;
    if (x < 0) return make();
  }
  return (variants[0] as [number, () => Message])[1]();
}

/** Header values the node must not take for a stream sequence (they do not parse as one). */
function garbageHeaders(r: Rng): MsgHdrs {
  const h = natsHeaders();
  h.set("Nats-Sequence", pick(r, ["", "abc", "-5", "0", "1.5", "1e400", "NaN", "9007199254740993"]));
  if (r() < 0.5) h.set("Nats-Last-Sequence", pick(r, ["x", "-1", ""]));
  if (r() < 0.5) h.set("X-Junk", "\u00ff".repeat(10));
  return h;
}

const EVENT_FIELDS = {
  sms_status: ["type", "eventId", "messageId", "appId", "tenantId", "status", "rcMessageId", "error", "timestamp", "seq"],
  sms_inbound: ["type", "eventId", "messageId", "from", "to", "body", "rcMessageId", "tenantId", "appId", "timestamp", "seq"],
} as const;

function scopeName(s: Scope): string {
  return s.role === "admin" ? "admin" : `${s.tenantId}.${s.appId}`;
}

describe("hostile producers", () => {
  it(`seeded adversarial payloads and subjects, direct and durable (PRODUCER_SEED=${SEED}): no crash, no scope leak, valid events exact`, async () => {
    console.log(`hostile-producers: PRODUCER_SEED=${SEED} cases=${CASES}`);
    const seedMsg = `PRODUCER_SEED=${SEED}`;
    const random = seededRandom(SEED);
    const rejectedBefore = await metricValue(node.node, "smsws_events_rejected_total");
    const repairsBefore = await metricValue(node.node, "smsws_gap_repairs_total");
    const unrecoverableBefore = await metricValue(node.node, "smsws_gaps_unrecoverable_total");

    const expectations = new Map<string, Exclude<Expectation, { type: "invalid" }> & { path: string }>();
    /** What each hostile message was, by the eventId its payload carries (for failure messages). */
    const hostileById = new Map<string, string>();
    const stats = { direct: { valid: 0, hostile: 0 }, durable: { valid: 0, hostile: 0 } };
    let refusedAtPublish = 0;
    let healthFailures = 0;
    const publishOne = async (m: Message): Promise<void> => {
      const e = m.expect;
      if (e.type !== "invalid") expectations.set(e.eventId, { ...e, path: m.path });
      else hostileById.set(`bad-${SEED}-${m.index}`, `${e.reason} on ${m.path} ${JSON.stringify(m.tokens.slice(0, 80))}`);
      if (e.type === "valid") stats[m.path].valid++;
      else stats[m.path].hostile++;
      // Valid events go through the regular producer connection; hostile ones through their own,
      // so a subject the server refuses cannot take the valid traffic down with it.
      try {
        if (m.path === "direct") {
          const nc = e.type === "valid" ? producer.nc : hostile;
          nc.publish(`sms.${m.tokens}`, m.data, m.headers === undefined ? undefined : { headers: m.headers });
        } else {
          if (e.type === "valid") await js.publish(`in.sms.${m.tokens}`, m.data, { timeout: 5000 });
          else await jsHostile.publish(`in.sms.${m.tokens}`, m.data, { timeout: 1000 });
        }
      } catch (err) {
        if (e.type === "valid") throw new Error(`${seedMsg}: valid event refused at publish: ${String(err)}`);
        refusedAtPublish++;
        if (e.type !== "invalid") expectations.delete(e.eventId);
      }
    };

    for (let i = 0; i < CASES; i++) {
      await publishOne(generate(random, i));
      if (i % 50 === 49) {
        await producer.nc.flush();
        await hostile.flush().catch(() => undefined);
        const res = await fetch(`${node.http}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        if (res?.status !== 200) healthFailures++;
      }
    }
    // Fences: one last valid event per scope and path; all must arrive, after everything above.
    for (const tenantId of TENANTS) {
      for (const appId of APPS) {
        for (const path of ["direct", "durable"] as const) {
          const eventId = `fence-${SEED}-${tenantId}-${appId}-${path}`;
          const ev = { type: "sms_status", eventId, messageId: "m", appId, tenantId, status: "sent", timestamp: new Date().toISOString() };
          await publishOne({ path, tokens: `${tenantId}.${appId}.status`, data: pack(ev), index: -1, expect: { type: "valid", eventId, tenantId, appToken: appId } });
        }
      }
    }
    await producer.nc.flush();

    // Wait until each socket has every valid event of its scope.
    const validIds = [...expectations.values()].filter((e) => e.type === "valid");
    const expectedFor = (w: Watcher) => validIds.filter((e) => scopeAllows(w.scope, e.tenantId, e.appToken)).map((e) => e.eventId);
    for (const w of watchers) {
      const want = new Set(expectedFor(w));
      await w.client
        .until(() => [...want].every((id) => w.client.events().some((f) => f.eventId === id)), 30_000, `all events of ${scopeName(w.scope)}`)
        .catch(() => undefined);
    }

    // Check every frame every socket received.
    const problems: string[] = [];
    const note = (p: string): void => {
      if (problems.length < 30) problems.push(p);
    };
    let delivered = 0;
    let lost = 0;
    const byPath = { direct: { delivered: 0, lost: 0, duplicated: 0 }, durable: { delivered: 0, lost: 0, duplicated: 0 } };
    let duplicated = 0;
    const ambiguousSeen = new Map<string, Set<number>>();
    for (const [wi, w] of watchers.entries()) {
      const events = w.client.events();
      const ids = events.map((f) => f.eventId as string);
      duplicated += ids.length - new Set(ids).size;
      for (const f of events) {
        const tenantId = String(f.tenantId);
        const appToken = typeof f.appId === "string" ? f.appId : "_";
        if (!scopeAllows(w.scope, tenantId, appToken)) note(`scope leak: ${scopeName(w.scope)} got ${JSON.stringify(f)}`);
        const e = expectations.get(String(f.eventId));
        if (e === undefined) {
          note(
            `${scopeName(w.scope)} got an event nobody published as deliverable (${hostileById.get(String(f.eventId)) ?? "?"}): ${JSON.stringify(f).slice(0, 300)}`,
          );
          continue;
        }
        if (e.tenantId !== tenantId || e.appToken !== appToken) note(`event ${String(f.eventId)} arrived with other ids: ${JSON.stringify(f).slice(0, 300)}`);
        const allowed = EVENT_FIELDS[f.type as keyof typeof EVENT_FIELDS] as readonly string[] | undefined;
        const extra = Object.keys(f).filter((k) => !(allowed ?? []).includes(k));
        if (allowed === undefined || extra.length > 0) note(`frame with undocumented fields ${extra.join(",")}: ${JSON.stringify(f).slice(0, 300)}`);
        if (e.path === "direct" && f.seq !== undefined) note(`direct-path event with a seq: ${JSON.stringify(f).slice(0, 200)}`);
        if (e.path === "durable" && (typeof f.seq !== "number" || f.seq === 999_999_999)) note(`durable event without its stream seq: ${JSON.stringify(f).slice(0, 200)}`);
        if (e.type === "ambiguous") {
          const seen = ambiguousSeen.get(e.eventId) ?? new Set<number>();
          seen.add(wi);
          ambiguousSeen.set(e.eventId, seen);
        }
      }
      const want = expectedFor(w);
      const got = new Set(ids);
      const missing = want.filter((id) => !got.has(id));
      lost += missing.length;
      delivered += want.length - missing.length;
      for (const id of want) byPath[(expectations.get(id) as { path: "direct" | "durable" }).path][got.has(id) ? "delivered" : "lost"]++;
      for (const id of new Set(ids.filter((x, k) => ids.indexOf(x) !== k))) {
        const path = expectations.get(id)?.path as "direct" | "durable" | undefined;
        if (path !== undefined) byPath[path].duplicated++;
      }
      if (missing.length > 0) note(`${scopeName(w.scope)} missed ${missing.length} valid events, e.g. ${missing.slice(0, 3).join(", ")}`);
      const stray = w.client.frames.filter((f: Frame) => !["auth_ok", "ping", "sms_status", "sms_inbound"].includes(f.type));
      if (stray.length > 0) note(`${scopeName(w.scope)} got unexpected frames: ${JSON.stringify(stray.slice(0, 2))}`);
      if (w.client.closed !== undefined) note(`${scopeName(w.scope)} was closed: ${JSON.stringify(w.client.closed)}`);
    }
    // An ambiguous payload that was delivered went to every socket of its scope, or to none.
    let ambiguousDelivered = 0;
    for (const [id, seen] of ambiguousSeen) {
      const e = expectations.get(id) as Extract<Expectation, { type: "ambiguous" }>;
      const inScope = watchers.map((w, i) => [w, i] as const).filter(([w]) => scopeAllows(w.scope, e.tenantId, e.appToken));
      if (inScope.some(([, i]) => !seen.has(i))) note(`ambiguous payload (${e.reason}) ${id} reached only part of its scope`);
      ambiguousDelivered++;
    }

    const rejected = (await metricValue(node.node, "smsws_events_rejected_total")) - rejectedBefore;
    const byReason: Record<string, number> = {};
    for (const reason of ["decode", "missing_field", "type_mismatch", "tenant_mismatch", "app_mismatch", "bad_subject"]) {
      byReason[reason] = await metricValue(node.node, "smsws_events_rejected_total", { reason });
    }
    const repairs = (await metricValue(node.node, "smsws_gap_repairs_total")) - repairsBefore;
    const unrecoverable = (await metricValue(node.node, "smsws_gaps_unrecoverable_total")) - unrecoverableBefore;
    const healthz = await fetch(`${node.http}/healthz`);
    const polluted = [
      ({} as Record<string, unknown>).polluted,
      (Object.prototype as unknown as Record<string, unknown>).polluted,
      (Object as unknown as Record<string, unknown>).polluted,
      ([] as unknown as Record<string, unknown>).polluted,
    ];

    console.log(
      [
        `hostile-producers: seed ${SEED}: direct ${stats.direct.hostile} hostile + ${stats.direct.valid} valid, durable ${stats.durable.hostile} hostile + ${stats.durable.valid} valid; ${refusedAtPublish} refused at publish`,
        `  deliveries: expected ${delivered + lost}, delivered ${delivered}, lost ${lost}, duplicated ${duplicated}; ambiguous payloads delivered ${ambiguousDelivered}`,
        `  rejected by the node: ${rejected} (${JSON.stringify(byReason)}); gap repairs ${repairs}, unrecoverable ${unrecoverable}`,
      ].join("\n"),
    );
    const crashes = healthz.status === 200 && healthFailures === 0 ? 0 : 1;
    for (const path of ["direct", "durable"] as const) {
      recordFaults({
        scenario: `hostile producers: ${path} path, adversarial payloads and subjects`,
        faults: stats[path].hostile,
        published: stats[path].valid,
        delivered: byPath[path].delivered,
        lost: byPath[path].lost,
        duplicated: byPath[path].duplicated,
        crashes,
      });
    }

    expect(problems, seedMsg).toEqual([]);
    expect(lost, seedMsg).toBe(0);
    expect(duplicated, seedMsg).toBe(0);
    expect(healthFailures, seedMsg).toBe(0);
    expect(healthz.status, seedMsg).toBe(200);
    expect(polluted, `${seedMsg}: prototype pollution`).toEqual([undefined, undefined, undefined, undefined]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort(), seedMsg).toEqual(prototypeBefore);
    expect(rejected, seedMsg).toBeGreaterThan(stats.direct.hostile / 2);
    for (const [reason, n] of Object.entries(byReason)) expect(n, `${seedMsg}: rejected{reason=${reason}}`).toBeGreaterThan(0);
  });
});

describe("hostile producers: forged stream headers on the direct path", () => {
  it("a direct-path publish carrying a forged Nats-Sequence does not make the node drop later durable events", async () => {
    // Anyone who may publish to sms.* (the direct path) can set any header. The node takes
    // Nats-Sequence as the stream sequence, so a forged, far-ahead value raises the feed's mark.
    const tenantId = "t2";
    const appId = "a1";
    const watcher = watchers.find((w) => w.scope.role === "app" && w.scope.tenantId === tenantId && w.scope.appId === appId) as Watcher;
    const admin = watchers.find((w) => w.scope.role === "admin") as Watcher;
    const ev = (eventId: string) => ({ type: "sms_status", eventId, messageId: "m", appId, tenantId, status: "sent", timestamp: new Date().toISOString() });
    const first = await js.publish(`in.sms.${tenantId}.${appId}.status`, pack(ev(`forge-before-${SEED}`)));
    await watcher.client.waitFor((f) => f.eventId === `forge-before-${SEED}`, 10_000);
    const forged = natsHeaders();
    forged.set("Nats-Sequence", String(first.seq + 1_000_000));
    forged.set("Nats-Last-Sequence", String(first.seq));
    hostile.publish(`sms.${tenantId}.${appId}.status`, pack(ev(`forge-forged-${SEED}`)), { headers: forged });
    await hostile.flush();
    await watcher.client.waitFor((f) => f.eventId === `forge-forged-${SEED}`, 10_000).catch(() => undefined);
    // A regular durable event afterwards: stored, republished with its real (lower) sequence.
    await js.publish(`in.sms.${tenantId}.${appId}.status`, pack(ev(`forge-after-${SEED}`)));
    const arrived = await Promise.all(
      [watcher, admin].map((w) =>
        w.client.waitFor((f) => f.eventId === `forge-after-${SEED}`, 10_000).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(arrived, "durable event after a forged Nats-Sequence reached [app socket, admin socket]").toEqual([true, true]);
  });
});

import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { WatchedBucket, type RecordKind, type WatchedBucketEvent } from "../../../src/keys/watched-bucket.js";
import { KeyStore } from "../../../src/keys/key-store.js";
import { hashApiKey } from "../../../src/keys/key-record.js";
import { RevokedTokens } from "../../../src/tokens/revoked-tokens.js";
import { SignerStore } from "../../../src/tokens/signer-store.js";
import { del, FakeBucket, put } from "./fake-bucket.js";

const log = pino({ level: "silent" });

/** Records are strings; a record that changes or disappears is a revocation. Value "bad" is unusable. */
const grants: RecordKind<string> = {
  noun: "grant",
  bucket: "api_keys",
  parse: (v) => (typeof v === "string" && v !== "bad" ? v : null),
  revokes: (before, after) => before !== undefined && before !== after,
};

function watched(source: FakeBucket) {
  const bucket = new WatchedBucket(source, grants, log, { retryDelayMs: 0 });
  const events: WatchedBucketEvent[] = [];
  bucket.on((e) => events.push(e));
  const next = (type: WatchedBucketEvent["type"]): Promise<WatchedBucketEvent> =>
    new Promise((resolve) => {
      const off = bucket.on((e) => {
        if (e.type === type) {
          off();
          resolve(e);
        }
      });
    });
  return { bucket, events, next };
}

describe("WatchedBucket: loading", () => {
  it("is loaded at once when the bucket is empty", async () => {
    const source = new FakeBucket();
    const { bucket, events } = watched(source);
    await bucket.start();
    expect(bucket.loaded).toBe(true);
    expect(bucket.lastUpdate).toBeGreaterThan(0);
    expect(events).toEqual([{ type: "loaded", size: 0 }]);
    bucket.stop();
  });

  it("loads every initial value before resolving, rejecting values that are not records, and deletes", async () => {
    const source = new FakeBucket();
    source.values = 4;
    const { bucket, events } = watched(source);
    const started = bucket.start();
    const watcher = await source.nthWatch(1);
    watcher.push(put("a", "A", { isUpdate: false, delta: 3 }));
    const bad = put("b", "bad", { isUpdate: false, delta: 2 });
    const garbage = put("c", "!garbage", { isUpdate: false, delta: 1 });
    watcher.push(bad);
    watcher.push(garbage);
    expect(bucket.loaded).toBe(false);
    watcher.push(del("d"));
    await started;
    expect([bucket.get("a"), bucket.has("b"), bucket.has("c"), bucket.size]).toEqual(["A", false, false, 1]);
    // Nothing was granted before the first load: no revocation events for it.
    expect(events).toEqual([
      { type: "rejected", bucket: "api_keys", key: "b", revision: bad.revision, reason: "invalid_record" },
      { type: "rejected", bucket: "api_keys", key: "c", revision: garbage.revision, reason: "not_json" },
      { type: "loaded", size: 1 },
    ]);
    bucket.stop();
  });

  it("rejects start() when stopped before the first load, and stops its watcher", async () => {
    const source = new FakeBucket();
    source.values = 1;
    const { bucket } = watched(source);
    const started = bucket.start();
    const watcher = await source.nthWatch(1);
    bucket.stop();
    await expect(started).rejects.toThrow(/grant watch stopped before the first load/);
    expect(watcher.stopped).toBe(true);
    await expect(bucket.start()).rejects.toThrow(/already stopped/);
  });
});

describe("WatchedBucket: live changes", () => {
  it("applies puts and deletes, emitting revoked only for what the kind calls a revocation", async () => {
    const source = new FakeBucket();
    const { bucket, events, next } = watched(source);
    await bucket.start();
    const watcher = await source.nthWatch(1);

    for (const [entry, size, outcome] of [
      [put("a", "A"), 1, "updated"],
      [put("a", "A"), 1, "updated"], // unchanged: no revocation
      [put("a", "A2"), 1, "updated"], // changed: revocation
      [put("b", "B"), 2, "updated"],
      [put("b", "bad"), 2, "rejected"], // not a record: ignored, B kept, no revocation
      [put("b", ""), 2, "rejected"], // empty: the same
      [put("b", "!binary"), 2, "rejected"],
      [del("b"), 1, "updated"], // a real delete: revocation
      [del("a", "PURGE"), 0, "updated"], // a purge: revocation
    ] as const) {
      const done = next(outcome);
      watcher.push(entry);
      await done;
      expect(bucket.size).toBe(size);
      if (outcome === "rejected") expect(bucket.get("b")).toBe("B");
    }
    expect(events.filter((e) => e.type === "revoked")).toEqual([
      { type: "revoked", key: "a" },
      { type: "revoked", key: "b" },
      { type: "revoked", key: "a" },
    ]);
    expect(events.filter((e) => e.type === "rejected").map((e) => (e as { reason: string }).reason)).toEqual(["invalid_record", "empty", "not_json"]);
    bucket.stop();
  });

  it("names JetStream answers written into the bucket through a reply subject", async () => {
    const source = new FakeBucket();
    const { bucket, next } = watched(source);
    await bucket.start();
    const watcher = await source.nthWatch(1);
    for (const [value, reason] of [
      [{ type: "io.nats.jetstream.api.v1.stream_info_response", total: 0, offset: 0, limit: 0 }, "jetstream_api_response"],
      [{ stream: "SMS_EVENTS", seq: 5 }, "jetstream_ack"],
      [{ role: "admin", extra: true }, "invalid_record"],
    ] as const) {
      const rejected = next("rejected");
      watcher.push(put("k", value));
      expect(await rejected).toMatchObject({ key: "k", reason });
    }
    bucket.stop();
  });
});

describe("WatchedBucket: losing the watch", () => {
  it("re-watches after an error and revokes what changed while it was not watching", async () => {
    const source = new FakeBucket();
    source.values = 3;
    const { bucket, events, next } = watched(source);
    const started = bucket.start();
    const first = await source.nthWatch(1);
    first.push(put("keep", "K", { isUpdate: false, delta: 2 }));
    first.push(put("changed", "C", { isUpdate: false, delta: 1 }));
    first.push(put("gone", "G", { isUpdate: false, delta: 0 }));
    await started;

    const lost = next("watch_lost");
    first.end(new Error("consumer deleted"));
    expect(await lost).toEqual({ type: "watch_lost", error: "Error: consumer deleted" });
    // Until the new watch has loaded, the old view keeps answering.
    expect(bucket.get("gone")).toBe("G");

    const second = await source.nthWatch(2);
    const reloaded = next("loaded");
    second.push(put("keep", "K", { isUpdate: false, delta: 2 }));
    second.push(put("changed", "C2", { isUpdate: false, delta: 1 }));
    second.push(put("new", "N", { isUpdate: false, delta: 0 }));
    expect(await reloaded).toEqual({ type: "loaded", size: 3 });
    expect(first.stopped).toBe(true);
    expect(events.filter((e) => e.type === "revoked").map((e) => (e as { key: string }).key).sort()).toEqual(["changed", "gone"]);
    expect([bucket.get("changed"), bucket.has("gone"), bucket.get("new")]).toEqual(["C2", false, "N"]);
    bucket.stop();
  });

  it("keeps a record whose value became junk while it was not watching (no revocation)", async () => {
    const source = new FakeBucket();
    source.values = 2;
    const { bucket, events, next } = watched(source);
    const started = bucket.start();
    const first = await source.nthWatch(1);
    first.push(put("junked", "J", { isUpdate: false, delta: 1 }));
    first.push(put("deleted", "D", { isUpdate: false, delta: 0 }));
    await started;
    first.end(new Error("lost"));
    const second = await source.nthWatch(2);
    const reloaded = next("loaded");
    source.values = 1;
    second.push(put("junked", "!junk", { isUpdate: false, delta: 0 }));
    expect(await reloaded).toEqual({ type: "loaded", size: 1 });
    expect([bucket.get("junked"), bucket.has("deleted")]).toEqual(["J", false]);
    expect(events.filter((e) => e.type === "revoked")).toEqual([{ type: "revoked", key: "deleted" }]);
    bucket.stop();
  });

  it("re-watches when a watch ends without an error, and not after stop()", async () => {
    const source = new FakeBucket();
    const { bucket, next } = watched(source);
    await bucket.start();
    const lost = next("watch_lost");
    (await source.nthWatch(1)).end();
    expect(await lost).toEqual({ type: "watch_lost", error: "watch ended" });
    const second = await source.nthWatch(2);
    const lostAfterStop = next("watch_lost");
    bucket.stop();
    await second.whenStopped;
    // A re-watch would be a 0 ms timer set from microtasks: two macrotask turns outlast it.
    const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
    await turn();
    await turn();
    expect(source.watchers).toHaveLength(2);
    expect(await Promise.race([lostAfterStop, "none"])).toBe("none");
  });
});

describe("WatchedBucket: the alarm", () => {
  it("logs each rejected value once at error level, with the key as logKey shows it and never the value", async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const source = new FakeBucket();
    const store = new KeyStore(source, capture, 0);
    await store.start();
    const watcher = await source.nthWatch(1);
    const hash = hashApiKey("smsws_k-alarm");
    const secretish = { role: "admin", tenantId: "t", note: "SECRET-VALUE" };
    const entry = put(hash, secretish);
    const rejected = new Promise<void>((resolve) => store.on((e) => e.type === "rejected" && resolve()));
    watcher.push(entry);
    await rejected;
    const alarms = lines.filter((l) => l.alarm === "bucket_value_rejected");
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ level: 50, bucket: "api_keys", key: hash.slice(0, 8), revision: entry.revision, reason: "invalid_record" });
    expect(JSON.stringify(lines)).not.toContain("SECRET-VALUE");
    expect(JSON.stringify(lines)).not.toContain(hash);
    store.stop();
  });
});

describe("stores built on WatchedBucket", () => {
  it("KeyStore reports revocations by hash and looks keys up by plaintext", async () => {
    const source = new FakeBucket();
    const store = new KeyStore(source, log, 0);
    const seen: unknown[] = [];
    store.on((e) => seen.push(e));
    await store.start();
    const watcher = await source.nthWatch(1);
    const hash = hashApiKey("smsws_k1");
    const rejected = new Promise<void>((resolve) => store.on((e) => e.type === "rejected" && resolve()));
    watcher.push(put(hash, { role: "app", tenantId: "t", appId: "a", createdAt: "x" }));
    watcher.push(put(hash, { role: "admin", tenantId: "t", createdAt: "x" })); // not a record: ignored
    await rejected;
    expect(store.lookup("smsws_k1")?.record).toMatchObject({ tenantId: "t", appId: "a" });
    // One answer per stored record: the sockets of a key share its hash string (idle memory).
    const first = store.lookup("smsws_k1");
    expect(store.lookup("smsws_k1")).toBe(first);
    const revoked = new Promise<void>((resolve) => store.on((e) => e.type === "revoked" && resolve()));
    watcher.push(put(hash, { role: "app", tenantId: "t", appId: "a2", createdAt: "x" })); // valid scope change: revokes
    await revoked;
    expect(seen).toContainEqual({ type: "revoked", hash });
    expect(seen.filter((e) => (e as { type: string }).type === "revoked")).toHaveLength(1);
    expect(store.lookup("smsws_k1")?.record).toMatchObject({ appId: "a2" });
    expect(store.lookup("smsws_k1")).not.toBe(first);
    store.stop();
  });

  it("SignerStore revokes a kid on a scope or key change, not on a label change", async () => {
    const source = new FakeBucket();
    const store = new SignerStore(source, log, { retryDelayMs: 0 });
    const revoked: string[] = [];
    store.on((e) => e.type === "revoked" && revoked.push(e.kid));
    await store.start();
    const watcher = await source.nthWatch(1);
    const key = Buffer.alloc(32, 1).toString("base64url");
    const other = Buffer.alloc(32, 2).toString("base64url");
    const done = new Promise<void>((resolve) => store.on((e) => e.type === "updated" && e.size === 0 && resolve()));
    watcher.push(put("k1", { tenantId: "t", publicKey: key }));
    watcher.push(put("k1", { tenantId: "t", publicKey: key, label: "renamed" }));
    watcher.push(put("k1", { tenantId: "t", appId: "a", publicKey: key }));
    watcher.push(put("k1", { tenantId: "t", appId: "a", publicKey: other }));
    watcher.push(del("k1"));
    await done;
    expect(revoked).toEqual(["k1", "k1", "k1"]);
    expect(store.signer("k1")).toBeUndefined();
    store.stop();
  });

  it("RevokedTokens revokes on a new revocation entry, never on junk, and forgets entries older than the TTL", async () => {
    const source = new FakeBucket();
    let now = Date.UTC(2026, 0, 1);
    const store = new RevokedTokens(source, log, { ttlMs: 60_000, nowMs: () => now, retryDelayMs: 0 });
    const revoked: string[] = [];
    const rejected: string[] = [];
    store.on((e) => e.type === "revoked" && revoked.push(e.jti));
    store.on((e) => e.type === "rejected" && rejected.push(`${e.key}:${e.reason}`));
    await store.start();
    const watcher = await source.nthWatch(1);
    const done = new Promise<void>((resolve) => store.on((e) => e.type === "updated" && e.size === 2 && resolve()));
    watcher.push(put("j-junk", "!not json", { created: new Date(now) }));
    watcher.push(put("j-ack", { stream: "SMS_EVENTS", seq: 5 }, { created: new Date(now) }));
    watcher.push(put("j-old", { revokedAt: "2025-12-31T23:59:30.000Z" }, { created: new Date(now - 30_000) }));
    watcher.push(put("j-new", { revokedAt: "2026-01-01T00:00:00.000Z", reason: "leaked" }, { created: new Date(now) }));
    await done;
    expect(revoked).toEqual(["j-old", "j-new"]);
    expect(rejected).toEqual(["j-junk:not_json", "j-ack:jetstream_ack"]);
    expect([store.isRevoked("j-old"), store.isRevoked("j-new"), store.isRevoked("j-junk"), store.isRevoked("j-ack")]).toEqual([true, true, false, false]);
    now += 30_000;
    expect(store.prune()).toBe(1);
    expect([store.isRevoked("j-old"), store.isRevoked("j-new")]).toEqual([false, true]);
    store.stop();
  });
});

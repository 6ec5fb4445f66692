import { describe, expect, it } from "vitest";
import { FeedRegistry } from "../../src/bus/feed-registry.js";
import { hashApiKey, parseKeyRecord } from "../../src/keys/key-record.js";
import { authenticate } from "../../src/protocol/authenticate.js";
import { NodeHealth } from "../../src/server/readiness.js";
import { invalidToken } from "../../src/tokens/verdict.js";
import { ADMIN_FEED, feedsOf, scopeAllows } from "../../src/scope/scope.js";
import { parseLiveSubject } from "../../src/bus/contract.js";
import { parseArgs, unexpectedArgs } from "../../src/cli/args.js";

const enc = (s: string) => new TextEncoder().encode(s).buffer as ArrayBuffer;
const record = { role: "app" as const, tenantId: "t", appId: "a", createdAt: "" };
const keys = {
  apiKey: (k: string) => (k === "good" ? { hash: hashApiKey(k), record } : undefined),
  token: () => invalidToken("no signers in this test"),
};

describe("authenticate", () => {
  it("accepts a known key with its scope and optional resume", () => {
    const d = authenticate(enc('{"type":"auth","apiKey":"good","resume":{"epoch":"e","seq":4}}'), false, keys);
    expect(d).toEqual({ type: "accept", outcome: "ok", credential: { kind: "key", hash: hashApiKey("good") }, scope: { role: "app", tenantId: "t", appId: "a" }, resume: { epoch: "e", seq: 4 } });
  });

  it("gives the sockets of one key-store answer one shared credential object (idle memory)", () => {
    const found = { hash: hashApiKey("good"), record };
    const shared = { ...keys, apiKey: (k: string) => (k === "good" ? found : undefined) };
    const auth = () => authenticate(enc('{"type":"auth","apiKey":"good"}'), false, shared);
    const [a, b] = [auth(), auth()];
    if (a.type !== "accept" || b.type !== "accept") throw new Error("expected two accepts");
    expect(a.credential).toBe(b.credential);
    expect(a.credential).toEqual({ kind: "key", hash: found.hash });
    expect(Object.isFrozen(a.credential)).toBe(true);
  });

  it("sends a credential with two dots to the token verifier, from apiKey or token, and never both", () => {
    const seen: string[] = [];
    const credentials = { ...keys, token: (t: string) => (seen.push(t), invalidToken("test")) };
    expect(authenticate(enc('{"type":"auth","apiKey":"a.b.c"}'), false, credentials)).toMatchObject({ type: "reject", outcome: "token_invalid", refusal: { code: 4401, reason: "Invalid token" } });
    expect(authenticate(enc('{"type":"auth","token":"x.y.z"}'), false, credentials)).toMatchObject({ type: "reject", outcome: "token_invalid" });
    expect(seen).toEqual(["a.b.c", "x.y.z"]);
    expect(authenticate(enc('{"type":"auth","token":"good"}'), false, credentials)).toMatchObject({ type: "accept", outcome: "ok" });
    expect(authenticate(enc('{"type":"auth","apiKey":"good","token":"x.y.z"}'), false, credentials)).toMatchObject({ type: "reject", refusal: { code: 4400, reason: expect.stringMatching(/both/) } });
  });

  it("answers unknown keys with the seed's message and 4401", () => {
    expect(authenticate(enc('{"type":"auth","apiKey":"bad"}'), false, keys)).toEqual({
      type: "reject", outcome: "invalid_key", refusal: { code: 4401, reason: "Invalid API key" },
    });
  });

  it.each([
    ["{", false, /not valid JSON/],
    ['"auth"', false, /JSON object/],
    ['{"type":"auth"}', false, /missing apiKey/],
    ['{"type":"hello","apiKey":"good"}', false, /type "auth"/],
    ['{"type":"auth","apiKey":"good"}', true, /binary/],
    ['{"type":"auth","apiKey":"good","resume":5}', false, /resume must be/],
    ['{"type":"auth","apiKey":"good","resume":{"epoch":"e","seq":1.5}}', false, /resume.seq/],
  ])("rejects %s (binary=%s) with 4400", (text, binary, error) => {
    const d = authenticate(enc(text), binary, keys);
    expect(d.type).toBe("reject");
    if (d.type === "reject") {
      expect(d.refusal.code).toBe(4400);
      expect(d.refusal.reason).toMatch(error);
    }
  });

  it("rejects invalid UTF-8", () => {
    const d = authenticate(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]).buffer, false, keys);
    expect(d).toMatchObject({ type: "reject", refusal: { code: 4400, reason: expect.stringMatching(/UTF-8/) } });
  });
});

describe("scopes and subjects", () => {
  it("maps scopes to feeds", () => {
    expect(feedsOf({ role: "admin" })).toEqual([ADMIN_FEED]);
    expect(feedsOf({ role: "app", tenantId: "t", appId: "a" }).map((f) => f.subject)).toEqual(["sms.t.a.*", "sms.t._.*"]);
  });

  it("scopeAllows is the boundary", () => {
    const app = { role: "app" as const, tenantId: "t", appId: "a" };
    expect(scopeAllows(app, "t", "a")).toBe(true);
    expect(scopeAllows(app, "t", "_")).toBe(true);
    expect(scopeAllows(app, "t", "b")).toBe(false);
    expect(scopeAllows(app, "u", "a")).toBe(false);
    expect(scopeAllows(app, "u", "_")).toBe(false);
    expect(scopeAllows({ role: "admin" }, "u", "z")).toBe(true);
  });

  it("parses live subjects strictly", () => {
    expect(parseLiveSubject("sms.t.a.status")).toEqual({ tenantId: "t", appToken: "a", kind: "status" });
    expect(parseLiveSubject("sms.t.a.x")).toBeNull();
    expect(parseLiveSubject("in.sms.t.a.status")).toBeNull();
    expect(parseLiveSubject(`sms.${"x".repeat(65)}.a.status`)).toBeNull();
  });
});

describe("FeedRegistry", () => {
  it("subscribes on the first reference and unsubscribes after the last", async () => {
    const log: string[] = [];
    const registry = new FeedRegistry({
      subscribe: (feed) => {
        log.push(`+${feed.subject}`);
        return () => log.push(`-${feed.subject}`);
      },
      flush: async () => void log.push("flush"),
    });
    const feeds = feedsOf({ role: "app", tenantId: "t", appId: "a" });
    const other = feedsOf({ role: "app", tenantId: "t", appId: "b" });
    await registry.acquire(feeds);
    await registry.acquire(feeds);
    await registry.acquire(other);
    expect(registry.size).toBe(3);
    expect(registry.references("sms.t._.*")).toBe(3);
    registry.release(feeds);
    expect(log.filter((l) => l.startsWith("-"))).toEqual([]);
    registry.release(feeds);
    expect(log.filter((l) => l.startsWith("-"))).toEqual(["-sms.t.a.*"]);
    registry.release(other);
    expect(log.filter((l) => l.startsWith("-"))).toEqual(["-sms.t.a.*", "-sms.t.b.*", "-sms.t._.*"]);
    expect(registry.size).toBe(0);
    registry.release(other);
    expect(registry.size).toBe(0);
  });
});

describe("readiness", () => {
  it("lists every reason it is not ready", () => {
    const health = new NodeHealth(true);
    health.draining = true;
    expect(health.readiness()).toEqual({
      ready: false, reasons: ["draining", "nats_disconnected", "keys_not_loaded", "stream_not_ready"],
    });
    Object.assign(health, { natsConnected: true, keysLoaded: true, streamChecked: true, draining: false });
    expect(health.readiness()).toEqual({ ready: true });
    expect(new NodeHealth(false).readiness()).toEqual({ ready: false, reasons: ["nats_disconnected", "keys_not_loaded"] });
  });
});

describe("key records", () => {
  it("accepts valid records and refuses unusable ones", () => {
    expect(parseKeyRecord({ role: "admin", createdAt: "x" })).toEqual({ role: "admin", createdAt: "x" });
    expect(parseKeyRecord({ role: "app", tenantId: "t", appId: "a", label: "l" })).toMatchObject({ appId: "a", label: "l" });
    expect(parseKeyRecord({ role: "app", tenantId: "t" })).toBeNull();
    expect(parseKeyRecord({ role: "app", tenantId: "t", appId: "_" })).toBeNull();
    expect(parseKeyRecord({ role: "root" })).toBeNull();
    expect(parseKeyRecord("admin")).toBeNull();
  });

  it("hashes keys as lowercase hex sha-256", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("cli args", () => {
  it("unexpectedArgs names a stray positional or an unknown option, and passes what a command takes", () => {
    const ok = parseArgs(["conns", "--tenant", "t1", "--json"], ["json"]);
    expect(unexpectedArgs(ok, 1, ["tenant", "json"])).toBeUndefined();
    expect(unexpectedArgs(parseArgs(["conns", "[--foo", "KEY]"]), 1, ["tenant"])).toBe('unexpected argument "[--foo"');
    expect(unexpectedArgs(parseArgs(["kick", "--tenat", "t1"]), 1, ["tenant"])).toBe("unknown option --tenat");
  });

  it("parses flags", () => {
    const a = parseArgs(["keys", "create", "--role", "app", "--json", "--label=x y"], ["json"]);
    expect(a.positionals).toEqual(["keys", "create"]);
    expect(Object.fromEntries(a.flags)).toEqual({ role: "app", json: true, label: "x y" });
  });
});

/**
 * The fleet's decision logic: selectors, the quota ledger (and its bounds on what other nodes
 * claim), chunked replies, tenant records, top's arithmetic, and the fleet plane's trust rules:
 * who is an operator, the fleet key's signatures, and the counts gate.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { countsContext, fleetKeys, generateFleetKey, parsePublicKeys, parseSigningKey, replyContext, signFleet, verifyFleet, type FleetSigningKey } from "../../src/fleet/fleet-key.js";
import { isOperatorReply } from "../../src/fleet/operator-reply.js";
import { topRows } from "../../src/cli/fleet-command.js";
import { CountsGate, parseCounts } from "../../src/fleet/counts-gate.js";
import { chunkRows, type ConnectionRow } from "../../src/fleet/messages.js";
import { FleetQuota } from "../../src/fleet/quota.js";
import { isEmptySelector, parseSelector, selects, selectsNode, type ConnectionFacts } from "../../src/fleet/selector.js";
import { parseTenantRecord } from "../../src/fleet/tenant-quotas.js";
import { DeliveryCounters } from "../../src/server/delivery-counters.js";

const node = { id: "NODEAAAA1111", name: "gw-0" };
const keyConn: ConnectionFacts = { tenant: "t1", app: "a1", credential: { kind: "key", hash: "abcdef0123" } };
const tokenConn: ConnectionFacts = { tenant: "t1", app: "a2", credential: { kind: "token", kid: "k1", sub: "user-7" } };
const adminConn: ConnectionFacts = { tenant: undefined, app: undefined, credential: { kind: "key", hash: "ffff0000" } };

describe("selector", () => {
  it("parses untrusted JSON strictly", () => {
    expect(parseSelector(undefined)).toEqual({ ok: true, selector: {} });
    expect(parseSelector({ tenant: "t1", key: "ABCD" })).toEqual({ ok: true, selector: { tenant: "t1", key: "abcd" } });
    expect(parseSelector([])).toMatchObject({ ok: false });
    expect(parseSelector("x")).toMatchObject({ ok: false });
    expect(parseSelector({ role: "app" })).toMatchObject({ ok: false, problem: expect.stringContaining("role") });
    expect(parseSelector({ tenant: 3 })).toMatchObject({ ok: false });
    expect(parseSelector({ tenant: "" })).toMatchObject({ ok: false });
    expect(parseSelector({ key: "abc" })).toMatchObject({ ok: false, problem: expect.stringContaining("4") });
    expect(parseSelector({ key: "xyz1" })).toMatchObject({ ok: false });
    expect(parseSelector({ tenant: undefined })).toEqual({ ok: true, selector: {} });
  });

  it("empty selects all; each field narrows (AND)", () => {
    expect(isEmptySelector({})).toBe(true);
    expect(isEmptySelector({ sub: "u" })).toBe(false);
    for (const c of [keyConn, tokenConn, adminConn]) expect(selects({}, node, c)).toBe(true);
    expect(selects({ tenant: "t1" }, node, adminConn)).toBe(false);
    expect(selects({ tenant: "t1", app: "a1" }, node, keyConn)).toBe(true);
    expect(selects({ tenant: "t1", app: "a1" }, node, tokenConn)).toBe(false);
    expect(selects({ key: "abcd" }, node, keyConn)).toBe(true);
    expect(selects({ key: "abce" }, node, keyConn)).toBe(false);
    expect(selects({ key: "abcd" }, node, tokenConn)).toBe(false);
    expect(selects({ signer: "k1" }, node, tokenConn)).toBe(true);
    expect(selects({ signer: "k1" }, node, keyConn)).toBe(false);
    expect(selects({ signer: "k2" }, node, tokenConn)).toBe(false);
    expect(selects({ sub: "user-7" }, node, tokenConn)).toBe(true);
    expect(selects({ sub: "user-8" }, node, tokenConn)).toBe(false);
    expect(selects({ sub: "user-7" }, node, keyConn)).toBe(false);
  });

  it("a node field matches the node's id prefix or its name", () => {
    expect(selectsNode({ node: "NODEAAAA" }, node)).toBe(true);
    expect(selectsNode({ node: "gw-0" }, node)).toBe(true);
    expect(selectsNode({ node: "gw-1" }, node)).toBe(false);
    expect(selects({ node: "gw-1" }, node, keyConn)).toBe(false);
  });
});

describe("fleet quota", () => {
  const quotas = { maxConnections: (t: string) => (t === "q" ? 100 : undefined) };

  it("tenants without a quota are always admitted", () => {
    const q = new FleetQuota(quotas, { intervalMs: 1000 });
    for (let i = 0; i < 1000; i++) expect(q.admit("free", i)).toBe(true);
    expect(q.hasQuota("free")).toBe(false);
  });

  it("splits the headroom between the nodes in one interval, and holds the total", () => {
    let t = 0;
    const q = new FleetQuota(quotas, { intervalMs: 1000, now: () => t });
    q.receive({ node: "b", at: 0, tenants: { q: 0 } });
    q.receive({ node: "c", at: 0, tenants: {} });
    expect(q.nodes).toBe(3);
    let local = 0;
    while (q.admit("q", local)) local++;
    expect(local).toBe(34); // ceil(100 / 3)
    // Next interval: the others filled theirs too; the total holds.
    t = 1000;
    q.receive({ node: "b", at: 1000, tenants: { q: 34 } });
    q.receive({ node: "c", at: 1000, tenants: { q: 32 } });
    q.shared();
    expect(q.remoteCount("q")).toBe(66);
    expect(q.admit("q", local)).toBe(false);
    // Sockets left elsewhere: headroom again, split again.
    t = 2000;
    q.receive({ node: "b", at: 2000, tenants: { q: 20 } });
    q.receive({ node: "c", at: 2000, tenants: { q: 20 } });
    q.shared();
    let more = 0;
    while (q.admit("q", local + more)) more++;
    expect(more).toBe(Math.ceil((100 - 74) / 3));
  });

  it("forgets stale and departed nodes; ignores reordered counts", () => {
    let t = 0;
    const q = new FleetQuota(quotas, { intervalMs: 1000, now: () => t });
    q.receive({ node: "b", at: 10, tenants: { q: 50 } });
    q.receive({ node: "b", at: 5, tenants: { q: 1 } });
    expect(q.remoteCount("q")).toBe(50);
    q.receive({ node: "c", at: 10, tenants: { q: 10 } });
    q.forget("c");
    expect(q.remoteCount("q")).toBe(50);
    t = 4000;
    expect(q.remoteCount("q")).toBe(0);
    expect(q.nodes).toBe(1);
    q.shared();
    expect(q.admit("q", 0)).toBe(true);
  });

  it("counts messages are checked", () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    expect(parseCounts(enc({ node: "n", at: 1, tenants: { a: 2, b: -1, c: "x" } }))).toEqual({ node: "n", at: 1, tenants: { a: 2 } });
    expect(parseCounts(enc({ node: 1, at: 1, tenants: {} }))).toBeUndefined();
    expect(parseCounts(new TextEncoder().encode("{"))).toBeUndefined();
  });

  it("tenant records", () => {
    expect(parseTenantRecord({ maxConnections: 5 })).toEqual({ maxConnections: 5 });
    expect(parseTenantRecord({})).toEqual({});
    expect(parseTenantRecord({ maxConnections: -1 })).toBeNull();
    expect(parseTenantRecord({ maxConnections: 1.5 })).toBeNull();
    expect(parseTenantRecord([])).toBeNull();
    expect(parseTenantRecord(null)).toBeNull();
  });
});

describe("replies and counters", () => {
  const row = (socket: number): ConnectionRow => ({ node: "n", host: "h", socket, role: "app", tenant: "t", app: "a", key: "abcdef01", address: "127.0.0.1", since: "2026-01-01T00:00:00.000Z", delivered: 0, bufferedBytes: 0 });

  it("conns replies are chunked under the byte limit, and always at least one", () => {
    expect(chunkRows({ node: "n", host: "h" }, [])).toEqual([{ node: "n", host: "h", chunk: 0, chunks: 1, rows: [] }]);
    const rows = Array.from({ length: 100 }, (_, i) => row(i));
    const chunks = chunkRows({ node: "n", host: "h" }, rows, 2000);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flatMap((c) => c.rows)).toEqual(rows);
    for (const c of chunks) {
      expect(c.chunks).toBe(chunks.length);
      expect(JSON.stringify(c.rows).length).toBeLessThanOrEqual(2000 + 200);
    }
  });

  it("delivery counters: per topic and per tenant; forgotten topics restart", () => {
    const d = new DeliveryCounters();
    d.published("t.a", "t", 3);
    d.published("t.a", "t", 2);
    expect(d.topic("t.a")).toBe(2);
    expect(d.tenants().get("t")).toBe(5);
    d.forget("t.a");
    expect(d.topic("t.a")).toBe(0);
  });

  it("top: rates from two samples, summed over nodes", () => {
    const before = [
      { node: "n1", host: "", at: 0, tenants: [{ tenant: "t", connections: 1, delivered: 10 }] },
      { node: "n2", host: "", at: 0, tenants: [{ tenant: "t", connections: 1, delivered: 0 }] },
    ];
    const after = [
      { node: "n1", host: "", at: 2000, tenants: [{ tenant: "t", connections: 2, delivered: 30 }, { tenant: "u", connections: 0, delivered: 0 }] },
      { node: "n2", host: "", at: 1000, tenants: [{ tenant: "t", connections: 1, delivered: 5 }] },
      { node: "n3", host: "", at: 1000, tenants: [{ tenant: "v", connections: 4, delivered: 100 }] },
    ];
    expect(topRows(before, after)).toEqual([
      { tenant: "v", connections: 4, perSecond: 0, delivered: 100 },
      { tenant: "t", connections: 3, perSecond: 15, delivered: 35 },
    ]);
  });
});

describe("quota: what another node claims is bounded", () => {
  const quotas = { maxConnections: (t: string) => (t === "q" ? 10 : undefined) };

  it("a claim counts at most the quota, and at most MAX_CONNECTIONS_PER_TENANT when set", () => {
    const q = new FleetQuota(quotas, { intervalMs: 1000, now: () => 0 });
    q.receive({ node: "fake", at: 0, tenants: { q: 100000 } });
    expect(q.remoteCount("q")).toBe(10);
    const capped = new FleetQuota(quotas, { intervalMs: 1000, perNodeMax: 4, now: () => 0 });
    capped.receive({ node: "b", at: 0, tenants: { q: 100000 } });
    capped.receive({ node: "c", at: 0, tenants: { q: 2 } });
    expect(capped.remoteCount("q")).toBe(6);
  });

  it("expires a claim by this node's clock, whatever `at` the sender wrote", () => {
    let t = 0;
    const q = new FleetQuota(quotas, { intervalMs: 1000, now: () => t });
    q.receive({ node: "b", at: 10_000_000, tenants: { q: 5 } });
    t = 2999;
    expect(q.remoteCount("q")).toBe(5);
    t = 3001;
    expect(q.remoteCount("q")).toBe(0);
    q.shared();
    expect(q.nodes).toBe(1);
  });

  it("keeps only quota'd tenants and at most maxNodes nodes", () => {
    const q = new FleetQuota(quotas, { intervalMs: 1000, maxNodes: 2, now: () => 0 });
    q.receive({ node: "b", at: 0, tenants: { q: 1, free: 1000 } });
    q.receive({ node: "c", at: 0, tenants: { q: 1 } });
    q.receive({ node: "d", at: 0, tenants: { q: 1 } });
    expect(q.remoteCount("q")).toBe(2);
    expect(q.remoteCount("free")).toBe(0);
    expect(q.nodes).toBe(3);
  });
});

describe("fleet plane: operators only", () => {
  it("serves a request only when the reply is the admin inbox or an import-mapped reply", () => {
    expect(isOperatorReply("_INBOX_admin.abc123")).toBe(true);
    expect(isOperatorReply("_R_.abc.def")).toBe(true);
    for (const reply of [undefined, "", "_INBOX_admin.", "_INBOX_admin", "_INBOX_gateway.x", "_INBOX.x", "sms-ws.fleet.spy.conns", "_R_", "x._INBOX_admin.y"]) {
      expect(isOperatorReply(reply), String(reply)).toBe(false);
    }
  });
});

describe("fleet key", () => {
  const pair = generateFleetKey();
  const key = (parseSigningKey(pair.signingKey) as { ok: true; key: FleetSigningKey }).key;
  const other = (parseSigningKey(generateFleetKey().signingKey) as { ok: true; key: FleetSigningKey }).key;

  it("generates a pair whose public half is the signing key's", () => {
    expect(key.publicKeyText).toBe(pair.publicKey);
    expect(pair.signingKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const parsed = parsePublicKeys(` ${pair.publicKey} , ${other.publicKeyText}`);
    expect(parsed.ok && parsed.key.length).toBe(2);
  });

  it("a signature holds only for its context, its exact bytes and the key's public half", () => {
    const sig = signFleet(key, replyContext("nonce-0123456789ab"), '{"kicked":1}');
    expect(verifyFleet([key.publicKey], replyContext("nonce-0123456789ab"), '{"kicked":1}', sig)).toBe(true);
    expect(verifyFleet([other.publicKey, key.publicKey], replyContext("nonce-0123456789ab"), '{"kicked":1}', sig)).toBe(true);
    expect(verifyFleet([other.publicKey], replyContext("nonce-0123456789ab"), '{"kicked":1}', sig)).toBe(false);
    expect(verifyFleet([key.publicKey], replyContext("nonce-other-request"), '{"kicked":1}', sig)).toBe(false);
    expect(verifyFleet([key.publicKey], replyContext("nonce-0123456789ab", true), '{"kicked":1}', sig)).toBe(false);
    expect(verifyFleet([key.publicKey], replyContext("nonce-0123456789ab"), '{"kicked":2}', sig)).toBe(false);
    expect(verifyFleet([key.publicKey], countsContext("nonce-0123456789ab"), '{"kicked":1}', sig)).toBe(false);
    for (const bad of [undefined, "", "!!!", sig.slice(1), "A".repeat(200)]) expect(verifyFleet([key.publicKey], replyContext("nonce-0123456789ab"), '{"kicked":1}', bad)).toBe(false);
  });

  it("refuses malformed keys with a message that never holds the key", () => {
    expect(parseSigningKey("abc")).toMatchObject({ ok: false });
    expect(parseSigningKey(`${pair.signingKey}A`)).toMatchObject({ ok: false });
    expect(parsePublicKeys("abc,def")).toMatchObject({ ok: false });
    expect(parsePublicKeys("")).toEqual({ ok: true, key: [] });
    const secret = `${pair.signingKey.slice(0, 40)}!!!`;
    expect(() => loadConfig({ FLEET_SIGNING_KEY: secret })).toThrow(/FLEET_SIGNING_KEY="<43 characters, not shown>" is invalid/);
    try {
      loadConfig({ FLEET_SIGNING_KEY: secret });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(secret.slice(0, 20));
    }
    expect(() => loadConfig({ FLEET_PUBLIC_KEY: "nope" })).toThrow(/FLEET_PUBLIC_KEY/);
    const config = loadConfig({ FLEET_SIGNING_KEY: pair.signingKey, FLEET_PUBLIC_KEY: `${other.publicKeyText},${pair.publicKey}` });
    const keys = fleetKeys(config.fleetSigningKey, config.fleetPublicKey);
    expect(keys.signingKey?.publicKeyText).toBe(pair.publicKey);
    expect(keys.publicKeys).toHaveLength(2);
    expect(fleetKeys("", []).signingKey).toBeUndefined();
  });
});

describe("counts gate", () => {
  const pair = generateFleetKey();
  const key = (parseSigningKey(pair.signingKey) as { ok: true; key: FleetSigningKey }).key;
  const impostor = (parseSigningKey(generateFleetKey().signingKey) as { ok: true; key: FleetSigningKey }).key;
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
  const subject = (node: string): string => `sms-ws.fleet.counts.${node}`;
  const signed = (k: FleetSigningKey, body: Record<string, unknown> & { node: string }): [string, Uint8Array, string] => {
    const data = enc(body);
    return [subject(body.node), data, signFleet(k, countsContext(subject(body.node)), data)];
  };

  it("signed mode: only the fleet key's counts, for their own subject, within the window, each once", () => {
    let t = 100_000;
    const gate = new CountsGate({ keys: [key.publicKey], now: () => t });
    expect(gate.signed).toBe(true);
    const good = signed(key, { node: "B", at: t, tenants: { q: 3 } });
    expect(gate.check(...good)).toEqual({ ok: true, counts: { node: "B", at: t, tenants: { q: 3 } } });
    expect(gate.check(...good)).toEqual({ ok: false, reason: "replayed" });
    expect(gate.check(subject("FAKE"), enc({ node: "FAKE", at: t, tenants: { q: 100000 } }), undefined)).toEqual({ ok: false, reason: "unsigned" });
    expect(gate.check(...signed(impostor, { node: "FAKE", at: t, tenants: { q: 1 } }))).toEqual({ ok: false, reason: "bad_signature" });
    // A real node's signed message moved to another node's subject.
    const [, data, sig] = signed(key, { node: "B", at: t + 1, tenants: {} });
    expect(gate.check(subject("C"), data, sig)).toEqual({ ok: false, reason: "wrong_subject" });
    expect(gate.check(...signed(key, { node: "B", at: t - 31_000, tenants: {} }))).toEqual({ ok: false, reason: "stale" });
    expect(gate.check(...signed(key, { node: "B", at: t + 31_000, tenants: {} }))).toEqual({ ok: false, reason: "stale" });
    expect(gate.check(subject("B"), enc({ node: "B" }), sig)).toEqual({ ok: false, reason: "malformed" });
    // A goodbye, then B's earlier counts replayed: refused (the last `at` outlives the goodbye).
    expect(gate.check(...signed(key, { node: "B", at: t + 5, tenants: {}, bye: true }))).toEqual({ ok: true, counts: { node: "B", at: t + 5, tenants: {}, bye: true } });
    expect(gate.check(...signed(key, { node: "B", at: t + 4, tenants: { q: 3 } }))).toEqual({ ok: false, reason: "replayed" });
    t += 200_000;
    expect(gate.check(...signed(key, { node: "B", at: t, tenants: {} })).ok).toBe(true);
  });

  it("signature checks are rate-limited: a flood of signed junk costs bounded CPU", () => {
    let t = 100_000;
    const gate = new CountsGate({ keys: [key.publicKey], verificationsPerS: 3, now: () => t });
    for (let i = 0; i < 3; i++) expect(gate.check(...signed(impostor, { node: `F${i}`, at: t, tenants: {} }))).toEqual({ ok: false, reason: "bad_signature" });
    expect(gate.check(...signed(key, { node: "B", at: t, tenants: {} }))).toEqual({ ok: false, reason: "rate_limited" });
    // Junk that fails a cheap check costs no token.
    expect(gate.check(...signed(impostor, { node: "F", at: 0, tenants: {} }))).toEqual({ ok: false, reason: "stale" });
    t += 1000;
    expect(gate.check(...signed(key, { node: "B", at: t, tenants: {} })).ok).toBe(true);
  });

  it("unsigned mode checks everything but the signature; memory is bounded", () => {
    const gate = new CountsGate({ keys: undefined, maxNodes: 2, now: () => 100_000 });
    expect(gate.signed).toBe(false);
    expect(gate.check(subject("a"), enc({ node: "a", at: 100_000, tenants: {} }), undefined).ok).toBe(true);
    expect(gate.check(subject("b"), enc({ node: "b", at: 100_000, tenants: {} }), undefined).ok).toBe(true);
    expect(gate.check(subject("c"), enc({ node: "c", at: 100_000, tenants: {} }), undefined)).toEqual({ ok: false, reason: "too_many_nodes" });
    // The old goodbye shape (at 0) is stale: it never removes a node's sockets.
    expect(gate.check(subject("a"), enc({ node: "a", at: 0, tenants: {} }), undefined)).toEqual({ ok: false, reason: "stale" });
  });
});

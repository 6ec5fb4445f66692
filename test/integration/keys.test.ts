import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/keys/key-record.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";

const run = promisify(execFile);
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;

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

/** The CLI as an operator runs it: `keys` with the admin user, `publish` with the producer's. */
function cli(...args: string[]) {
  const role = args[0] !== "publish" ? "admin" : args.includes("--direct") ? "directProducer" : "producer";
  return run(process.execPath, [CLI, ...args], { env: { ...process.env, ...nats.cliEnv(role), LOG_LEVEL: "silent" } });
}

describe("API keys", () => {
  it("revoking a key closes its sockets on every node within 1 s, and only those", async () => {
    const key = await producer.key({ role: "app", tenantId: "Tr", appId: "Ar" });
    const keep = await producer.key({ role: "app", tenantId: "Tr", appId: "Ar" });
    const [n1, n2] = nodes as [TestNode, TestNode];
    const victims = [await TestClient.authed(n1.url, key), await TestClient.authed(n2.url, key)];
    const survivor = await TestClient.authed(n1.url, keep);
    const started = Date.now();
    await producer.kv.delete(hashApiKey(key));
    for (const v of victims) {
      const closed = await v.waitClosed(1000);
      expect(closed.code).toBe(4401);
      expect(v.raw.at(-1)).toBe('{"type":"auth_error","error":"API key revoked"}');
    }
    expect(Date.now() - started).toBeLessThan(1000);
    expect(survivor.closed).toBeUndefined();
    // The revoked key no longer authenticates anywhere.
    const again = await TestClient.connect(n2.url);
    again.sendJson({ type: "auth", apiKey: key });
    expect((await again.waitClosed()).code).toBe(4401);
    survivor.close();
  });

  it("a purge revokes too, and a new key works at once on a running node", async () => {
    const key = await producer.key({ role: "admin" });
    const c = await TestClient.authed((nodes[1] as TestNode).url, key);
    await producer.kv.purge(hashApiKey(key));
    expect((await c.waitClosed(1000)).code).toBe(4401);
  });

  it("CLI: keys create (--json), list, revoke by hash prefix", async () => {
    const created = JSON.parse((await cli("keys", "create", "--role", "app", "--tenant", "Tc", "--app", "Ac", "--label", "ci", "--json")).stdout);
    expect(created).toEqual({ apiKey: expect.any(String), keyHash: expect.stringMatching(/^[0-9a-f]{64}$/), role: "app", tenantId: "Tc", appId: "Ac" });
    expect(Buffer.from(created.apiKey.replace(/^smsws_/, ""), "base64url").length).toBeGreaterThanOrEqual(32);
    expect(hashApiKey(created.apiKey)).toBe(created.keyHash);
    const admin = JSON.parse((await cli("keys", "create", "--role", "admin", "--json")).stdout);
    expect(admin.role).toBe("admin");

    const c = await TestClient.authed((nodes[0] as TestNode).url, created.apiKey);
    const listed = (await cli("keys", "list")).stdout;
    expect(listed).toContain(created.keyHash);
    expect(listed).toContain("Tc/Ac");
    expect(listed).not.toContain(created.apiKey);

    const revoked = await cli("keys", "revoke", created.keyHash.slice(0, 10));
    expect(revoked.stdout.trim()).toBe(`revoked ${created.keyHash.slice(0, 8)}`);
    expect((await c.waitClosed(1000)).code).toBe(4401);
    expect((await cli("keys", "list")).stdout).not.toContain(created.keyHash);
  });

  it("CLI: refuses bad input with a clear message and exit code 1", async () => {
    await expect(cli("keys", "create", "--role", "app", "--tenant", "bad tenant!", "--app", "A")).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("--tenant must match"),
    });
    await expect(cli("keys", "revoke", "deadbeefdeadbeef")).rejects.toMatchObject({ stderr: expect.stringContaining("no such key") });
    await expect(cli("publish", "--json", '{"type":"sms_status"}')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("messageId must be a non-empty string"),
    });
  });

  it("CLI: publish fills in eventId and timestamp, durable by default and --direct", async () => {
    const key = await producer.key({ role: "app", tenantId: "Tp", appId: "Ap" });
    const c = await TestClient.authed((nodes[0] as TestNode).url, key);
    const durable = JSON.parse((await cli("publish", "--json", '{"type":"sms_status","messageId":"m1","tenantId":"Tp","appId":"Ap","status":"queued"}')).stdout);
    expect(durable.subject).toBe("in.sms.Tp.Ap.status");
    expect(durable.seq).toBeGreaterThan(0);
    const direct = JSON.parse((await cli("publish", "--direct", "--json", '{"type":"sms_inbound","messageId":"m2","tenantId":"Tp","from":"+1","to":"+2","body":"hi"}')).stdout);
    expect(direct.subject).toBe("sms.Tp._.inbound");
    await c.waitForEvents(2);
    expect(c.events()[0]).toMatchObject({ eventId: durable.event.eventId, seq: durable.seq, timestamp: durable.event.timestamp });
    expect(c.events()[1]).toEqual(direct.event);
    c.close();
  });
});

describe("config", () => {
  it("a bad value stops the process with a message naming the variable", async () => {
    const r = run(process.execPath, [CLI, "serve"], { env: { ...process.env, PORT: "http" } });
    await expect(r).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('PORT="http" is invalid') });
  });

  it("--help lists every variable with its default", async () => {
    const { stdout } = await run(process.execPath, [CLI, "--help"]);
    for (const v of ["PORT", "HOST", "NATS_URL", "METRICS_PORT", "AUTH_TIMEOUT_MS", "PING_INTERVAL_MS", "MAX_BACKPRESSURE_BYTES", "ALLOWED_ORIGINS", "LOG_LEVEL", "DRAIN_DELAY_MS", "DRAIN_WINDOW_MS"]) {
      expect(stdout).toContain(v);
    }
    expect(stdout).toContain("(default: 8080)");
  });
});

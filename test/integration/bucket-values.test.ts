/**
 * Junk in the KV buckets (docs/security.md, "Bucket values"): nats-server can be made to publish
 * a JetStream API response or a publish ack into a bucket through a request's reply subject. Here
 * the admin writes such values (and empty and binary ones) into every bucket under a live
 * tenant's key, signer, token id and quota, on a real nats-server with production permissions.
 * A running node must keep the tenant's sockets open, keep accepting its key and token, keep its
 * quota, and count every value; then a real delete or revocation still takes effect at once.
 */
import type { KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, openBucket } from "../../src/bus/buckets.js";
import { hashApiKey } from "../../src/keys/key-record.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner, revokeSigner, type CreatedSigner } from "../../src/tokens/signer-admin.js";
import { revokeTokenId } from "../../src/tokens/token-revocation.js";
import { TestClient } from "../helpers/client.js";
import { metricValue, startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

const TENANT = "Tjunk";
const QUOTA = 2;
const REJECTED = "smsws_bucket_rejected_values_total";

/** What the reply-subject trick stores (seen in the security probe), and two more kinds of junk. */
const JUNK: [reason: string, value: string | Uint8Array][] = [
  ["jetstream_api_response", JSON.stringify({ type: "io.nats.jetstream.api.v1.stream_info_response", total: 0, offset: 0, limit: 0, config: { name: "SMS_EVENTS" } })],
  ["jetstream_ack", JSON.stringify({ stream: "SMS_EVENTS", seq: 5 })],
  ["empty", new Uint8Array(0)],
  ["not_json", new Uint8Array([0x00, 0xff, 0xfe, 0x7b])],
];

let nats: TestNats;
let node: TestNode;
let producer: Producer;
let signerKv: KV;
let revokedKv: KV;
let tenantsKv: KV;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  signerKv = await openBucket(producer.admin, BUCKETS.tokenSigners);
  revokedKv = await openBucket(producer.admin, BUCKETS.revokedTokens);
  tenantsKv = await openBucket(producer.admin, BUCKETS.tenants);
  await tenantsKv.put(TENANT, JSON.stringify({ maxConnections: QUOTA }));
  // Junk already there when the node starts: rejected (and counted) by its first load.
  await tenantsKv.put("Tpreloaded", JSON.stringify({ stream: "SMS_EVENTS", seq: 1 }));
  node = await startTestNode(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

function token(s: CreatedSigner, jti: string): string {
  return createConnectionToken({ privateKey: s.privateKeyPem, kid: s.kid, tenantId: TENANT, appId: "a1", ttlSeconds: 600, jti });
}

async function authWith(frame: Record<string, unknown>): Promise<{ first: unknown; code: number | undefined; client: TestClient }> {
  const c = await TestClient.connect(node.url);
  c.sendJson({ type: "auth", ...frame });
  const first = await c.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
  const code = first.type === "auth_ok" ? undefined : (await c.waitClosed()).code;
  return { first, code, client: c };
}

const rejected = (bucket: string, reason?: string) => metricValue(node.node, REJECTED, { bucket, ...(reason === undefined ? {} : { reason }) });

describe("junk values in the buckets", () => {
  it("the first load rejected a junk quota already in the bucket", async () => {
    expect(await rejected("tenants", "jetstream_ack")).toBe(1);
  });

  it("change nothing on a running node (sockets, key, token, quota); each is counted; a real delete or revocation still works", async () => {
    const apiKey = await producer.key({ role: "app", tenantId: TENANT, appId: "a1" });
    const signer = await createSigner(signerKv, { tenantId: TENANT, appId: "a1" });
    await pollUntil(() => node.node.signerStore.has(signer.kid), 5000, "the signer on the node");
    const jti = "jti-junk-victim";
    const keySocket = await TestClient.authed(node.url, apiKey);
    const tokenSocket = await TestClient.authed(node.url, "", { apiKey: undefined, token: token(signer, jti) });
    const quotaFull = { type: "auth_error", error: "Too many connections for this tenant" };
    expect((await authWith({ apiKey })).first).toEqual(quotaFull);

    const before = await Promise.all(["api_keys", "token_signers", "revoked_tokens", "tenants"].map((b) => rejected(b)));
    for (const [, value] of JUNK) {
      await producer.kv.put(hashApiKey(apiKey), value);
      await signerKv.put(signer.kid, value);
      await revokedKv.put(jti, value);
      await tenantsKv.put(TENANT, value);
    }
    await pollUntil(
      async () => (await Promise.all(["api_keys", "token_signers", "revoked_tokens", "tenants"].map((b) => rejected(b)))).every((n, i) => n === (before[i] as number) + JUNK.length),
      10_000,
      "every junk value counted",
    );
    for (const [reason] of JUNK) expect(await rejected("api_keys", reason)).toBe(1);

    // The quota is still enforced, which also proves the key and the token still authenticate
    // (a refused credential is answered before the quota is looked at).
    expect(await authWith({ apiKey })).toMatchObject({ first: quotaFull, code: 4429 });
    expect(await authWith({ token: token(signer, "jti-junk-other") })).toMatchObject({ first: quotaFull, code: 4429 });
    expect(keySocket.closed).toBeUndefined();
    expect(tokenSocket.closed).toBeUndefined();
    expect(node.node.keyStore.lookup(apiKey)?.record).toMatchObject({ role: "app", tenantId: TENANT, appId: "a1" });
    expect(node.node.signerStore.signer(signer.kid)?.publicKey).toBe(signer.publicKey);

    // A real revocation of the token id closes its socket.
    await revokeTokenId(revokedKv, jti);
    expect(await tokenSocket.waitClosed(2000)).toMatchObject({ code: 4401 });

    // A real delete of the quota lifts it: two more sockets (three in all) are admitted.
    await tenantsKv.delete(TENANT);
    const extra: TestClient[] = [];
    await pollUntil(async () => {
      const attempt = await authWith({ apiKey });
      if ((attempt.first as { type: string }).type !== "auth_ok") return false;
      extra.push(attempt.client);
      return extra.length === 2;
    }, 5000, "the quota lifted");
    expect(keySocket.closed).toBeUndefined();

    // A real delete of the key closes every socket using it; a purge of the signer its tokens'.
    const signerSocket = await TestClient.authed(node.url, "", { apiKey: undefined, token: token(signer, "jti-junk-third") });
    await producer.kv.delete(hashApiKey(apiKey));
    for (const c of [keySocket, ...extra]) expect((await c.waitClosed(2000)).code).toBe(4401);
    expect(signerSocket.closed).toBeUndefined();
    await revokeSigner(signerKv, signer.kid);
    expect((await signerSocket.waitClosed(2000)).code).toBe(4401);
    expect((await authWith({ apiKey })).first).toEqual({ type: "auth_error", error: "Invalid API key" });
  });
});

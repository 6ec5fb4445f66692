/**
 * SignerStore and RevokedTokens against a real nats-server: initial load, live changes,
 * revocation events, and the verifier reading both stores as a node will.
 */
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, createBucket } from "../../src/bus/buckets.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { RevokedTokens, type RevokedTokensEvent } from "../../src/tokens/revoked-tokens.js";
import { createSigner, listSigners, revokeSigner } from "../../src/tokens/signer-admin.js";
import { SignerStore, type SignerStoreEvent } from "../../src/tokens/signer-store.js";
import { revokeTokenId } from "../../src/tokens/token-revocation.js";
import { verifyConnectionToken, type TokenVerifierDeps } from "../../src/tokens/verify-token.js";
import { startTestNats, storeReaches, type TestNats } from "../helpers/harness.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const TTL_S = 3600;

let nats: TestNats;
let nc: NatsConnection;
let signerKv: KV;
let revokedKv: KV;

beforeAll(async () => {
  // The stores' logic on an open server (the gateway user's read rights are in nats-permissions).
  nats = await startTestNats({ secure: false });
  nc = await connect({ servers: nats.url, name: "token-stores-test" });
  signerKv = await createBucket(nc, BUCKETS.tokenSigners, { replicas: 1 });
  revokedKv = await createBucket(nc, BUCKETS.revokedTokens, { replicas: 1, ttlMs: TTL_S * 1000 });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Resolves with the first event of a store that satisfies `accept`. Subscribe before acting. */
function nextEvent<E>(store: { on(listener: (e: E) => void): () => void }, accept: (e: E) => boolean): Promise<E> {
  return new Promise((resolve) => {
    const off = store.on((e) => {
      if (accept(e)) {
        off();
        resolve(e);
      }
    });
  });
}

describe("SignerStore", () => {
  it("loads the signers present at start, follows additions, and revokes on delete or scope change", async () => {
    const before = await createSigner(signerKv, { tenantId: "T1", appId: "A1", label: "web" });
    const tenantWide = await createSigner(signerKv, { tenantId: "T1" });
    const store = new SignerStore(signerKv, log);
    const events: SignerStoreEvent[] = [];
    store.on((e) => events.push(e));
    await store.start();
    try {
      expect(store.loaded).toBe(true);
      expect(store.signer(before.kid)).toMatchObject({ tenantId: "T1", appId: "A1", label: "web", publicKey: before.publicKey });
      expect(store.signer(tenantWide.kid)).toMatchObject({ tenantId: "T1" });
      expect(store.signer(tenantWide.kid)?.appId).toBeUndefined();
      expect(events.filter((e) => e.type === "revoked")).toEqual([]);

      // Live addition.
      const added = await createSigner(signerKv, { tenantId: "T2", appId: "A2" });
      await storeReaches(store, () => store.has(added.kid));
      expect(store.signer(added.kid)).toMatchObject({ tenantId: "T2", appId: "A2" });

      // A label change keeps the signer's sockets; a scope change revokes them.
      const relabelled = nextEvent(store, (e: SignerStoreEvent) => e.type === "updated");
      await signerKv.put(added.kid, JSON.stringify({ ...store.signer(added.kid), label: "renamed" }));
      await relabelled;
      const narrowed = nextEvent(store, (e: SignerStoreEvent) => e.type === "revoked");
      await signerKv.put(before.kid, JSON.stringify({ ...store.signer(before.kid), appId: "A9" }));
      expect(await narrowed).toEqual({ type: "revoked", kid: before.kid });

      // Revoking (the CLI purges) and a plain delete both revoke.
      const purged = nextEvent(store, (e: SignerStoreEvent) => e.type === "revoked");
      await revokeSigner(signerKv, added.kid);
      expect(await purged).toEqual({ type: "revoked", kid: added.kid });
      const deleted = nextEvent(store, (e: SignerStoreEvent) => e.type === "revoked");
      await signerKv.delete(tenantWide.kid);
      expect(await deleted).toEqual({ type: "revoked", kid: tenantWide.kid });
      expect([store.has(added.kid), store.has(tenantWide.kid)]).toEqual([false, false]);
      expect(events.filter((e) => e.type === "revoked")).toHaveLength(3);

      // A value that is not a signer record changes nothing: the last valid record stays.
      const kept = store.signer(before.kid);
      const broken = nextEvent(store, (e: SignerStoreEvent) => e.type === "rejected");
      await signerKv.put(before.kid, '{"tenantId":"T1","publicKey":"short"}');
      expect(await broken).toMatchObject({ type: "rejected", bucket: "token_signers", key: before.kid, reason: "invalid_record" });
      expect(store.signer(before.kid)).toEqual(kept);
      expect(events.filter((e) => e.type === "revoked")).toHaveLength(3);

      await expect(revokeSigner(signerKv, added.kid)).rejects.toThrow(/no such signer/);
      expect((await listSigners(signerKv)).map((s) => s.kid)).not.toContain(added.kid);
    } finally {
      store.stop();
    }
  });
});

describe("RevokedTokens", () => {
  it("loads revoked ids without events, then reports each new one", async () => {
    await revokeTokenId(revokedKv, "jti-before-start");
    const store = new RevokedTokens(revokedKv, log, { ttlMs: TTL_S * 1000 });
    const events: RevokedTokensEvent[] = [];
    store.on((e) => events.push(e));
    await store.start();
    try {
      expect(store.isRevoked("jti-before-start")).toBe(true);
      expect(store.isRevoked("jti-other")).toBe(false);
      expect(events).toEqual([{ type: "loaded", size: 1 }]);

      const revoked = nextEvent(store, (e: RevokedTokensEvent) => e.type === "revoked");
      await revokeTokenId(revokedKv, "jti-live");
      expect(await revoked).toEqual({ type: "revoked", jti: "jti-live" });
      expect(store.isRevoked("jti-live")).toBe(true);
      await expect(revokeTokenId(revokedKv, "not a jti")).rejects.toThrow(/jti must match/);
      // Nothing the set forgets is younger than the bucket's TTL.
      expect(store.prune()).toBe(0);
      expect(store.isRevoked("jti-live")).toBe(true);
    } finally {
      store.stop();
    }
  });

  it("creates the revoked-token bucket with entries expiring after TOKEN_MAX_TTL_S", async () => {
    const status = await revokedKv.status();
    expect(status.ttl).toBe(TTL_S * 1000);
  });
});

describe("verifier over live stores", () => {
  it("accepts a token until its signer is deleted or its jti revoked, each within one watch event", async () => {
    const signers = new SignerStore(signerKv, log);
    const revoked = new RevokedTokens(revokedKv, log, { ttlMs: TTL_S * 1000 });
    await Promise.all([signers.start(), revoked.start()]);
    try {
      const deps: TokenVerifierDeps = {
        signer: (kid) => signers.signer(kid),
        isRevoked: (jti) => revoked.isRevoked(jti),
        nowMs: Date.now,
        maxTtlS: TTL_S,
      };
      const created = await createSigner(signerKv, { tenantId: "Tv", appId: "Av" });
      await storeReaches(signers, () => signers.has(created.kid));
      const mint = (jti: string) =>
        createConnectionToken({ privateKey: created.privateKeyPem, kid: created.kid, tenantId: "Tv", appId: "Av", ttlSeconds: 600, jti });

      const first = mint("jti-v1");
      const second = mint("jti-v2");
      expect(verifyConnectionToken(first, deps)).toMatchObject({ ok: true, kid: created.kid, scope: { tenantId: "Tv", appId: "Av" } });

      const jtiRevoked = nextEvent(revoked, (e: RevokedTokensEvent) => e.type === "revoked" && e.jti === "jti-v1");
      await revokeTokenId(revokedKv, "jti-v1");
      await jtiRevoked;
      expect(verifyConnectionToken(first, deps)).toMatchObject({ ok: false, outcome: "token_revoked", closeCode: 4401 });
      expect(verifyConnectionToken(second, deps).ok).toBe(true);

      const signerRevoked = nextEvent(signers, (e: SignerStoreEvent) => e.type === "revoked" && e.kid === created.kid);
      await revokeSigner(signerKv, created.kid);
      await signerRevoked;
      expect(verifyConnectionToken(second, deps)).toMatchObject({ ok: false, outcome: "token_invalid", error: "Invalid token" });
    } finally {
      signers.stop();
      revoked.stop();
    }
  });
});

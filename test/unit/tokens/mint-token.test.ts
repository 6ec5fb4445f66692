import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createConnectionToken, generateSignerKeyPair, TokenMintError } from "../../../src/tokens/mint-token.js";
import { parseSignerRecord } from "../../../src/tokens/signer-record.js";
import { verifyConnectionToken } from "../../../src/tokens/verify-token.js";
import { NOW_MS, NOW_S } from "./token-kit.js";

function signerFor(publicKey: string, scope: { tenantId: string; appId?: string } = { tenantId: "t1", appId: "a1" }) {
  const record = parseSignerRecord({ ...scope, publicKey, createdAt: "x" });
  if (record === null) throw new Error("bad record");
  return { signer: (kid: string) => (kid === "sig_1" ? record : undefined), isRevoked: () => false, nowMs: () => NOW_MS, maxTtlS: 86_400 };
}

function decode(token: string): { header: unknown; payload: Record<string, unknown> } {
  const [h, p] = token.split(".") as [string, string];
  return { header: JSON.parse(Buffer.from(h, "base64url").toString()), payload: JSON.parse(Buffer.from(p, "base64url").toString()) };
}

describe("generateSignerKeyPair", () => {
  it("returns the raw public key (base64url, 32 bytes) and a PKCS#8 PEM private key that match", () => {
    const pair = generateSignerKeyPair();
    expect(Buffer.from(pair.publicKey, "base64url")).toHaveLength(32);
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const derived = createPublicKey(pair.privateKeyPem).export({ format: "jwk" });
    expect(derived.x).toBe(pair.publicKey);
  });
});

describe("createConnectionToken", () => {
  const pair = generateSignerKeyPair();
  const base = { privateKey: pair.privateKeyPem, kid: "sig_1", tenantId: "t1", appId: "a1", ttlSeconds: 900, now: NOW_MS };

  it("mints a token the verifier accepts, with the spec's header and claims", () => {
    const token = createConnectionToken({ ...base, sub: "user-1", jti: "j-1", filter: { statuses: ["failed"] } });
    expect(decode(token)).toEqual({
      header: { alg: "EdDSA", typ: "JWT", kid: "sig_1" },
      payload: { tenantId: "t1", appId: "a1", iat: NOW_S, exp: NOW_S + 900, sub: "user-1", jti: "j-1", filter: { statuses: ["failed"] } },
    });
    expect(verifyConnectionToken(token, signerFor(pair.publicKey))).toMatchObject({ ok: true, kid: "sig_1", claims: { sub: "user-1" } });
  });

  it("gives each token a random jti by default, so every token can be revoked", () => {
    const a = decode(createConnectionToken(base)).payload.jti;
    const b = decode(createConnectionToken(base)).payload.jti;
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
  });

  it("accepts the key as a KeyObject, a PEM string or a base64url raw seed", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const x = publicKey.export({ format: "jwk" }).x as string;
    const seed = privateKey.export({ format: "jwk" }).d as string;
    for (const key of [privateKey, privateKey.export({ format: "pem", type: "pkcs8" }).toString(), seed]) {
      expect(verifyConnectionToken(createConnectionToken({ ...base, privateKey: key }), signerFor(x)).ok).toBe(true);
    }
  });

  it.each([
    ["a non-Ed25519 key", { privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }, /Ed25519 private key \(got ec\)/],
    ["a public key", { privateKey: generateKeyPairSync("ed25519").publicKey }, /Ed25519 private key/],
    ["a seed of the wrong length", { privateKey: Buffer.alloc(31).toString("base64url") }, /32-byte Ed25519 seed/],
    ["garbage PEM", { privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }, /could not be read/],
    ["a bad kid", { kid: "sig.1" }, /kid must match/],
    ["a TTL of 0", { ttlSeconds: 0 }, /ttlSeconds/],
    ["a fractional TTL", { ttlSeconds: 1.5 }, /ttlSeconds/],
    ["appId _", { appId: "_" }, /appId/],
    ["a bad tenantId", { tenantId: "" }, /tenantId/],
    ["a long sub", { sub: "x".repeat(129) }, /sub/],
    ["a bad jti", { jti: "has space" }, /jti/],
    ["a bad filter", { filter: { types: "sms_status" } as never }, /filter.types/],
  ])("refuses %s with a TokenMintError", (_name, overrides, message) => {
    const attempt = () => createConnectionToken({ ...base, ...overrides });
    expect(attempt).toThrow(TokenMintError);
    expect(attempt).toThrow(message);
  });

  it("never puts the key in an error message", () => {
    const seed = "A".repeat(42);
    try {
      createConnectionToken({ ...base, privateKey: seed });
      throw new Error("expected a throw");
    } catch (err) {
      expect((err as Error).message).not.toContain(seed);
    }
  });
});

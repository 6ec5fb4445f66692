/** Interop with an independent JWT implementation (jose): tokens go both ways. */
import { generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createConnectionToken } from "../../../src/tokens/mint-token.js";
import { parseSignerRecord } from "../../../src/tokens/signer-record.js";
import { verifyConnectionToken } from "../../../src/tokens/verify-token.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const x = publicKey.export({ format: "jwk" }).x as string;
const record = parseSignerRecord({ tenantId: "t1", appId: "a1", publicKey: x, createdAt: "now" });
const deps = {
  signer: (kid: string) => (kid === "sig_jose" && record !== null ? record : undefined),
  isRevoked: () => false,
  nowMs: Date.now,
  maxTtlS: 86_400,
};

describe("jose interop", () => {
  it("a token minted by jose's SignJWT (EdDSA, kid) verifies with ours", async () => {
    const token = await new SignJWT({ tenantId: "t1", appId: "a1", filter: { types: ["sms_status"] } })
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: "sig_jose" })
      .setIssuedAt()
      .setExpirationTime("15m")
      .setSubject("user-7")
      .setJti("jose-jti-1")
      .sign(privateKey);
    const verdict = verifyConnectionToken(token, deps);
    expect(verdict).toMatchObject({
      ok: true,
      kid: "sig_jose",
      scope: { role: "app", tenantId: "t1", appId: "a1" },
      claims: { sub: "user-7", jti: "jose-jti-1", filter: { types: ["sms_status"] } },
    });
  });

  it("a jose token without typ verifies too; one signed with another key does not", async () => {
    const mint = (key: typeof privateKey) =>
      new SignJWT({ tenantId: "t1", appId: "a1" }).setProtectedHeader({ alg: "EdDSA", kid: "sig_jose" }).setIssuedAt().setExpirationTime("1h").sign(key);
    expect(verifyConnectionToken(await mint(privateKey), deps).ok).toBe(true);
    expect(verifyConnectionToken(await mint(generateKeyPairSync("ed25519").privateKey), deps)).toMatchObject({ ok: false, outcome: "token_invalid" });
  });

  it("a token minted by ours verifies with jose's jwtVerify, using the stored public key as a JWK", async () => {
    const token = createConnectionToken({ privateKey, kid: "sig_jose", tenantId: "t1", appId: "a1", ttlSeconds: 600, sub: "user-8" });
    const jwk = await importJWK({ kty: "OKP", crv: "Ed25519", x }, "EdDSA");
    const { payload, protectedHeader } = await jwtVerify(token, jwk, { algorithms: ["EdDSA"], typ: "JWT", subject: "user-8" });
    expect(protectedHeader).toEqual({ alg: "EdDSA", typ: "JWT", kid: "sig_jose" });
    expect(payload).toMatchObject({ tenantId: "t1", appId: "a1", sub: "user-8" });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    expect(decodeProtectedHeader(token).kid).toBe("sig_jose");
  });
});

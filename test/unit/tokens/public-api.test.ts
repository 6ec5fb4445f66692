/** sms-ws-gateway/tokens as a tenant's backend imports it (package self-reference, built dist/). */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as tokens from "sms-ws-gateway/tokens";

describe("sms-ws-gateway/tokens", () => {
  it("exports the mint helper and key generation", () => {
    const { publicKey, privateKeyPem } = tokens.generateSignerKeyPair();
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = tokens.createConnectionToken({ privateKey: privateKeyPem, kid: "sig_1", tenantId: "t1", appId: "a1", ttlSeconds: 60 });
    expect(token.split(".")).toHaveLength(3);
    expect(() => tokens.createConnectionToken({ privateKey: "x", kid: "sig_1", tenantId: "t1", appId: "a1", ttlSeconds: 60 })).toThrow(tokens.TokenMintError);
    expect(tokens.CLOCK_LEEWAY_S).toBe(5);
    expect(tokens.DEFAULT_TOKEN_MAX_TTL_S).toBe(86_400);
    expectTypeOf(tokens.createConnectionToken).returns.toEqualTypeOf<string>();
    expectTypeOf<tokens.ConnectionTokenClaims["filter"]>().toEqualTypeOf<tokens.TokenFilter | undefined>();
  });
});

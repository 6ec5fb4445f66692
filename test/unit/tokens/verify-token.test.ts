import { createHmac, generateKeyPairSync } from "node:crypto";
import * as crypto from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { verifyConnectionToken } from "../../../src/tokens/verify-token.js";
import type { TokenVerdict } from "../../../src/tokens/verdict.js";
import { b64, claims, depsFor, header, makeSigner, NOW_MS, NOW_S, signToken } from "./token-kit.js";

// Count signature verifications: a malformed token must cost none, any token at most one.
vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>();
  return { ...original, verify: vi.fn(original.verify) };
});
const verifyCalls = (): number => vi.mocked(crypto.verify).mock.calls.length;

const appSigner = makeSigner("sig_app", { tenantId: "t1", appId: "a1" });
const tenantSigner = makeSigner("sig_tenant", { tenantId: "t1" });
const otherTenant = makeSigner("sig_t2", { tenantId: "t2" });
const deps = depsFor([appSigner, tenantSigner, otherTenant], { revoked: ["jti-revoked"] });

beforeEach(() => {
  vi.mocked(crypto.verify).mockClear();
});

function expectRefused(verdict: TokenVerdict, outcome: string, detail: RegExp, token?: string): void {
  if (verdict.ok) throw new Error("expected a refusal");
  const expected = {
    token_invalid: { error: "Invalid token", closeCode: 4401 },
    token_expired: { error: "Token expired", closeCode: 4419 },
    token_revoked: { error: "Token revoked", closeCode: 4401 },
  }[outcome];
  expect(verdict).toMatchObject({ outcome, ...expected });
  expect(verdict.detail).toMatch(detail);
  // The detail goes to logs: never the token, nor its signature.
  if (token !== undefined && token.length > 0) {
    for (const segment of token.split(".").filter((s) => s.length > 8)) expect(verdict.detail).not.toContain(segment);
  }
}

describe("verifyConnectionToken: valid tokens", () => {
  it("accepts a token of an app signer and returns its scope, kid, expiry and claims", () => {
    const token = signToken(
      header("sig_app"),
      claims({ sub: "user-42", jti: "jti-1", filter: { types: ["sms_status"], statuses: ["failed"], messageIds: ["msg_1"] }, iss: "ignored" }),
      appSigner.privateKey,
    );
    const verdict = verifyConnectionToken(token, deps);
    expect(verdict).toEqual({
      ok: true,
      scope: { role: "app", tenantId: "t1", appId: "a1" },
      kid: "sig_app",
      expMs: (NOW_S + 900) * 1000,
      claims: {
        tenantId: "t1",
        appId: "a1",
        iat: NOW_S - 10,
        exp: NOW_S + 900,
        sub: "user-42",
        jti: "jti-1",
        filter: { types: ["sms_status"], statuses: ["failed"], messageIds: ["msg_1"] },
      },
    });
    expect(verifyCalls()).toBe(1);
  });

  it("lets a signer without appId mint for any app of its tenant", () => {
    for (const appId of ["a1", "a2", "billing"]) {
      const verdict = verifyConnectionToken(signToken(header("sig_tenant"), claims({ appId }), tenantSigner.privateKey), deps);
      expect(verdict).toMatchObject({ ok: true, scope: { tenantId: "t1", appId } });
    }
  });

  it("accepts a header without typ, and typ in any case", () => {
    for (const h of [{ alg: "EdDSA", kid: "sig_app" }, header("sig_app", { typ: "jwt" }), header("sig_app", { typ: "application/JWT" })]) {
      expect(verifyConnectionToken(signToken(h, claims(), appSigner.privateKey), deps).ok).toBe(true);
    }
  });
});

describe("verifyConnectionToken: malformed tokens cost no signature check", () => {
  const valid = signToken(header("sig_app"), claims(), appSigner.privateKey);
  const [h, p, s] = valid.split(".") as [string, string, string];
  const cases: [string, unknown, RegExp][] = [
    ["empty", "", /empty/],
    ["not a string", 42, /not a string/],
    ["one segment", h, /1 segments/],
    ["two segments", `${h}.${p}`, /2 segments/],
    ["four segments", `${h}.${p}.${s}.${s}`, /4 segments/],
    ["longer than the cap", `${h}.${p}${"A".repeat(4096)}.${s}`, /longer than 4096/],
    ["huge header", `${b64(header("sig_app", { pad: "x".repeat(600) }))}.${p}.${s}`, /header longer than 512/],
    ["header with a base64 (not url) character", `${h.slice(0, -1)}+.${p}.${s}`, /header is not base64url/],
    ["padded payload", `${h}.${p}=.${s}`, /payload is not base64url/],
    ["non-canonical base64url (unused bits set)", `${h}.${b64("{}").slice(0, -1)}1.${s}`, /payload is not base64url/],
    ["length 4n+1", `${h}.AAAAA.${s}`, /payload is not base64url/],
    ["empty header", `.${p}.${s}`, /header is empty/],
    ["header not JSON", `${b64("not json")}.${p}.${s}`, /header is not UTF-8 JSON/],
    ["header not UTF-8", `${Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url")}.${p}.${s}`, /header is not UTF-8 JSON/],
    ["header a JSON array", `${b64([1])}.${p}.${s}`, /header is not a JSON object/],
    ["payload null", `${h}.${b64("null")}.${s}`, /payload is not a JSON object/],
    ["signature not base64url", `${h}.${p}.${s.slice(0, -2)}*!`, /signature is not base64url/],
    ["signature of the wrong length", `${h}.${p}.${s.slice(0, 84)}`, /signature is 63 bytes/],
    ["alg none (unsecured JWT)", `${b64({ alg: "none", typ: "JWT", kid: "sig_app" })}.${p}.`, /alg "none" is not accepted/],
    ["alg missing", `${b64({ typ: "JWT", kid: "sig_app" })}.${p}.${s}`, /alg undefined is not accepted/],
    ["alg ES256", `${b64(header("sig_app", { alg: "ES256" }))}.${p}.${s}`, /alg "ES256"/],
    ["alg Ed25519 (not the name the spec fixes)", `${b64(header("sig_app", { alg: "Ed25519" }))}.${p}.${s}`, /alg "Ed25519"/],
    ["alg with a different case", `${b64(header("sig_app", { alg: "eddsa" }))}.${p}.${s}`, /alg "eddsa"/],
    ["typ JOSE", `${b64(header("sig_app", { typ: "JOSE" }))}.${p}.${s}`, /typ "JOSE" is not JWT/],
    ["crit extension", `${b64(header("sig_app", { crit: ["b64"], b64: false }))}.${p}.${s}`, /crit/],
    ["kid missing", `${b64({ alg: "EdDSA", typ: "JWT" })}.${p}.${s}`, /kid must be a string/],
    ["kid a number", `${b64(header("sig_app", { kid: 7 }))}.${p}.${s}`, /kid must be a string/],
    ["kid with a dot (a KV wildcard)", `${b64(header("sig.app"))}.${p}.${s}`, /kid must be a string/],
  ];

  it.each(cases)("%s", (_name, token, detail) => {
    expectRefused(verifyConnectionToken(token as string, deps), "token_invalid", detail, typeof token === "string" ? token : undefined);
    expect(verifyCalls()).toBe(0);
  });

  it("alg HS256 with the signer's public key as the HMAC secret (algorithm confusion)", () => {
    const input = `${b64(header("sig_app", { alg: "HS256" }))}.${b64(claims())}`;
    for (const secret of [Buffer.from(appSigner.record.publicKey, "base64url"), appSigner.record.publicKey]) {
      const token = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      expectRefused(verifyConnectionToken(token, deps), "token_invalid", /alg "HS256" is not accepted/, token);
    }
    expect(verifyCalls()).toBe(0);
  });
});

describe("verifyConnectionToken: claims", () => {
  const mistyped: [string, Record<string, unknown>, RegExp][] = [
    ["tenantId missing", { tenantId: undefined }, /tenantId/],
    ["tenantId a number", { tenantId: 1 }, /tenantId/],
    ["tenantId with a dot", { tenantId: "t1.x" }, /tenantId/],
    ["appId missing", { appId: undefined }, /appId/],
    ["appId the tenant-wide token", { appId: "_" }, /appId/],
    ["appId too long", { appId: "a".repeat(65) }, /appId/],
    ["exp missing", { exp: undefined }, /exp must be a number/],
    ["exp a numeric string", { exp: String(NOW_S + 900) }, /exp must be a number/],
    ["exp not finite", { exp: "Infinity" }, /exp must be a number/],
    ["iat missing", { iat: undefined }, /iat must be a number/],
    ["iat null", { iat: null }, /iat must be a number/],
    ["nbf a string", { nbf: "soon" }, /nbf must be a number/],
    ["sub a number", { sub: 42 }, /sub must be a string/],
    ["sub empty", { sub: "" }, /sub must be a string/],
    ["sub of 129 characters", { sub: "u".repeat(129) }, /sub must be a string of 1 to 128/],
    ["jti with a space (not a KV key)", { jti: "a b" }, /jti must be a string/],
    ["jti a number", { jti: 5 }, /jti must be a string/],
    ["filter an array", { filter: ["sms_status"] }, /filter must be an object/],
    ["filter null", { filter: null }, /filter must be an object/],
    ["filter.types a string", { filter: { types: "sms_status" } }, /filter.types must be an array/],
    ["filter.statuses with an empty string", { filter: { statuses: [""] } }, /filter.statuses must hold strings/],
    ["filter.messageIds with a number", { filter: { messageIds: [1] } }, /filter.messageIds must hold strings/],
    ["filter.messageIds too long", { filter: { messageIds: Array.from({ length: 101 }, (_, i) => `m${i}`) } }, /at most 100/],
    ["filter item too long", { filter: { statuses: ["s".repeat(129)] } }, /1 to 128 characters/],
    ["filter with an unknown (misspelt) field", { filter: { messageID: ["m1"] } }, /unknown field "messageID"/],
  ];

  it.each(mistyped)("refuses %s before checking the signature", (_name, overrides, detail) => {
    const token = signToken(header("sig_app"), claims(overrides), appSigner.privateKey);
    expectRefused(verifyConnectionToken(token, deps), "token_invalid", detail, token);
    expect(verifyCalls()).toBe(0);
  });

  it("accepts fractional NumericDates and empty filter lists", () => {
    const token = signToken(header("sig_app"), claims({ iat: NOW_S - 0.5, exp: NOW_S + 60.25, filter: { messageIds: [] } }), appSigner.privateKey);
    expect(verifyConnectionToken(token, deps)).toMatchObject({ ok: true, expMs: (NOW_S + 60.25) * 1000, claims: { filter: { messageIds: [] } } });
  });
});

describe("verifyConnectionToken: signer and scope", () => {
  it("refuses an unknown kid (or a deleted signer) without a signature check", () => {
    const token = signToken(header("sig_gone"), claims(), appSigner.privateKey);
    expectRefused(verifyConnectionToken(token, deps), "token_invalid", /unknown signer sig_gone/, token);
    expect(verifyCalls()).toBe(0);
  });

  it("refuses a token for another app than the signer's", () => {
    const token = signToken(header("sig_app"), claims({ appId: "a2" }), appSigner.privateKey);
    expectRefused(verifyConnectionToken(token, deps), "token_invalid", /sig_app may not mint for t1\/a2/, token);
    expect(verifyCalls()).toBe(0);
  });

  it("refuses a kid of another tenant, even with that signer's own key", () => {
    const token = signToken(header("sig_t2"), claims({ tenantId: "t1" }), otherTenant.privateKey);
    expectRefused(verifyConnectionToken(token, deps), "token_invalid", /sig_t2 may not mint for t1\/a1/, token);
    expect(verifyCalls()).toBe(0);
  });

  it("refuses a bad signature: another key, a tampered payload, a flipped bit", () => {
    const stranger = generateKeyPairSync("ed25519").privateKey;
    const good = signToken(header("sig_tenant"), claims(), tenantSigner.privateKey);
    const [h, , s] = good.split(".") as [string, string, string];
    const sig = Buffer.from(s, "base64url");
    sig[10] = (sig[10] as number) ^ 1;
    const tokens = [
      signToken(header("sig_tenant"), claims(), stranger),
      `${h}.${b64(claims({ appId: "a2" }))}.${s}`,
      `${good.slice(0, good.lastIndexOf(".") + 1)}${sig.toString("base64url")}`,
    ];
    for (const token of tokens) expectRefused(verifyConnectionToken(token, deps), "token_invalid", /bad signature/, token);
    expect(verifyCalls()).toBe(3);
  });

  it("refuses a signer whose stored key cannot be imported", () => {
    const broken = makeSigner("sig_broken", { tenantId: "t1" });
    // A record that bypassed parseSignerRecord (which would have refused it).
    const record = { ...broken.record, publicKey: "not-a-key" };
    const token = signToken(header("sig_broken"), claims(), broken.privateKey);
    const verdict = verifyConnectionToken(token, { ...deps, signer: () => record });
    expectRefused(verdict, "token_invalid", /sig_broken has an unusable public key/, token);
    expect(verifyCalls()).toBe(0);
  });
});

describe("verifyConnectionToken: lifetime and clock", () => {
  const sign = (c: Record<string, unknown>) => signToken(header("sig_app"), claims(c), appSigner.privateKey);

  it("accepts exp - iat up to TOKEN_MAX_TTL_S and refuses one second more", () => {
    expect(verifyConnectionToken(sign({ iat: NOW_S, exp: NOW_S + 3600 }), depsFor([appSigner], { maxTtlS: 3600 })).ok).toBe(true);
    const tooLong = sign({ iat: NOW_S, exp: NOW_S + 3601 });
    expectRefused(verifyConnectionToken(tooLong, depsFor([appSigner], { maxTtlS: 3600 })), "token_invalid", /lifetime 3601 s exceeds TOKEN_MAX_TTL_S \(3600 s\)/);
    expect(verifyCalls()).toBe(1);
  });

  it("refuses exp not after iat", () => {
    expectRefused(verifyConnectionToken(sign({ iat: NOW_S, exp: NOW_S }), deps), "token_invalid", /exp is not after iat/);
  });

  it("refuses an iat in the future beyond the leeway (it would stretch the TTL cap)", () => {
    expectRefused(verifyConnectionToken(sign({ iat: NOW_S + 3600, exp: NOW_S + 7200 }), deps), "token_invalid", /iat is in the future/);
    expect(verifyConnectionToken(sign({ iat: NOW_S + 4, exp: NOW_S + 900 }), deps).ok).toBe(true);
  });

  it("refuses a token not valid yet (nbf)", () => {
    expectRefused(verifyConnectionToken(sign({ nbf: NOW_S + 60 }), deps), "token_invalid", /nbf/);
    expect(verifyConnectionToken(sign({ nbf: NOW_S }), deps).ok).toBe(true);
  });

  it("tolerates 5 s of clock skew on exp by default: expired from exp + 5 s", () => {
    const token = sign({ iat: NOW_S - 60, exp: NOW_S });
    expect(verifyConnectionToken(token, depsFor([appSigner], { nowMs: NOW_MS + 4_999 })).ok).toBe(true);
    const verdict = verifyConnectionToken(token, depsFor([appSigner], { nowMs: NOW_MS + 5_000 }));
    expectRefused(verdict, "token_expired", /expired 5 s ago/, token);
  });

  it("takes another leeway from its deps, capped at 30 s", () => {
    const token = sign({ iat: NOW_S - 60, exp: NOW_S });
    expect(verifyConnectionToken(token, depsFor([appSigner], { nowMs: NOW_MS + 29_000, leewayS: 30 })).ok).toBe(true);
    expect(verifyConnectionToken(token, depsFor([appSigner], { nowMs: NOW_MS + 31_000, leewayS: 600 })).ok).toBe(false);
    expect(verifyConnectionToken(token, depsFor([appSigner], { nowMs: NOW_MS + 1, leewayS: 0 })).ok).toBe(false);
  });

  it("calls a forged token invalid, not expired", () => {
    const forged = signToken(header("sig_app"), claims({ iat: NOW_S - 7200, exp: NOW_S - 3600 }), generateKeyPairSync("ed25519").privateKey);
    expectRefused(verifyConnectionToken(forged, deps), "token_invalid", /bad signature/);
  });
});

describe("verifyConnectionToken: revocation", () => {
  it("refuses a revoked jti with 'Token revoked' and 4401", () => {
    const token = signToken(header("sig_app"), claims({ jti: "jti-revoked" }), appSigner.privateKey);
    expectRefused(verifyConnectionToken(token, deps), "token_revoked", /jti jti-revoked revoked/, token);
  });

  it("calls a forged token with a revoked jti invalid", () => {
    const forged = signToken(header("sig_app"), claims({ jti: "jti-revoked" }), generateKeyPairSync("ed25519").privateKey);
    expectRefused(verifyConnectionToken(forged, deps), "token_invalid", /bad signature/);
  });

  it("never throws: a failing dependency is a refusal", () => {
    const token = signToken(header("sig_app"), claims({ jti: "j1" }), appSigner.privateKey);
    const boom = (): never => {
      throw new Error("store down");
    };
    expectRefused(verifyConnectionToken(token, { ...deps, signer: boom }), "token_invalid", /verification failed: store down/, token);
    expectRefused(verifyConnectionToken(token, { ...deps, isRevoked: boom }), "token_invalid", /store down/, token);
  });
});

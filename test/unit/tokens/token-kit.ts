/** Keys, signers and hand-built tokens (well-formed or not) for the token tests. */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { SignerRecord } from "../../../src/tokens/signer-record.js";
import type { TokenVerifierDeps } from "../../../src/tokens/verify-token.js";

/** A fixed clock: 2026-03-01T10:00:00Z. */
export const NOW_MS = Date.UTC(2026, 2, 1, 10, 0, 0);
export const NOW_S = NOW_MS / 1000;

export interface TestSigner {
  kid: string;
  privateKey: KeyObject;
  publicKeyObject: KeyObject;
  record: SignerRecord;
}

export function makeSigner(kid: string, scope: { tenantId: string; appId?: string }): TestSigner {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x as string;
  return {
    kid,
    privateKey,
    publicKeyObject: publicKey,
    record: { tenantId: scope.tenantId, ...(scope.appId === undefined ? {} : { appId: scope.appId }), publicKey: x, createdAt: "2026-01-01T00:00:00.000Z" },
  };
}

export function b64(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** header.payload.signature, signed with Ed25519 over whatever the two segments are. */
export function signToken(header: unknown, payload: unknown, privateKey: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}

export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { tenantId: "t1", appId: "a1", iat: NOW_S - 10, exp: NOW_S + 900, ...overrides };
}

export function header(kid: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: "EdDSA", typ: "JWT", kid, ...overrides };
}

export function depsFor(
  signers: readonly TestSigner[],
  options: { revoked?: readonly string[]; nowMs?: number; maxTtlS?: number; leewayS?: number } = {},
): TokenVerifierDeps {
  const byKid = new Map(signers.map((s) => [s.kid, s.record]));
  const revoked = new Set(options.revoked ?? []);
  return {
    signer: (kid) => byKid.get(kid),
    isRevoked: (jti) => revoked.has(jti),
    nowMs: () => options.nowMs ?? NOW_MS,
    maxTtlS: options.maxTtlS ?? 86_400,
    ...(options.leewayS === undefined ? {} : { leewayS: options.leewayS }),
  };
}

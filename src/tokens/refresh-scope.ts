/**
 * README.md, "Connection tokens": `{"type":"refresh","token":...}` must name the same tenantId and appId as the token
 * the socket authenticated with. Another signer (key rotation) is fine; a new filter claim can
 * only narrow what the socket receives (src/scope/socket-filter.ts, narrow), never widen it.
 *
 * A socket that sends the token it last refreshed with again gets the verdict it got then, re-checked
 * against everything that can change since (signer deleted or rebound, jti revoked, expiry), without
 * a second Ed25519 verification: a refresh flood costs a string comparison per frame. A signer whose
 * key changes under the same kid revokes every socket of that kid (signer-record.ts, sameSignerGrant),
 * so a cached verdict never outlives the key that signed it.
 */
import { CLOCK_LEEWAY_S } from "./limits.js";
import { signerAllows, type SignerRecord } from "./signer-record.js";
import { expiredToken, invalidToken, revokedToken, type AppScope, type TokenAccepted, type TokenVerdict } from "./verdict.js";

export function refreshKeepsScope(current: AppScope, next: TokenAccepted): boolean {
  return next.scope.tenantId === current.tenantId && next.scope.appId === current.appId;
}

export interface RecheckDeps {
  signer(kid: string): SignerRecord | undefined;
  isRevoked(jti: string): boolean;
  nowMs(): number;
}

/** A verdict this node reached before, checked again for what may have changed since. */
export function recheckToken(verdict: TokenAccepted, deps: RecheckDeps): TokenVerdict {
  const signer = deps.signer(verdict.kid);
  if (signer === undefined) return invalidToken(`unknown signer ${verdict.kid}`);
  if (!signerAllows(signer, verdict.scope.tenantId, verdict.scope.appId)) return invalidToken(`signer ${verdict.kid} may not mint for ${verdict.scope.tenantId}/${verdict.scope.appId}`);
  if (verdict.claims.jti !== undefined && deps.isRevoked(verdict.claims.jti)) return revokedToken(`jti ${verdict.claims.jti} revoked`);
  if (deps.nowMs() >= verdict.expMs + CLOCK_LEEWAY_S * 1000) return expiredToken("expired");
  return verdict;
}

/** The last token a socket refreshed with and what it was found to be. */
export interface VerifiedToken {
  readonly token: string;
  readonly verdict: TokenAccepted;
}

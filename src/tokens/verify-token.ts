/**
 * Verifies a connection token (README.md, "Connection tokens") with node:crypto alone. Every cheap check (size,
 * structure, header, claim types, signer, scope, lifetime) comes before the one Ed25519
 * verification a token may cost, so garbage is refused for the price of a string split.
 * Never throws: a failure of any kind, even of a dependency, is a refusal.
 */
import { verify } from "node:crypto";
import { parseTokenClaims, type ConnectionTokenClaims } from "./claims.js";
import { parseCompactJws, type JsonObject } from "./jws.js";
import { CLOCK_LEEWAY_S, ED25519_SIGNATURE_BYTES, KID_PATTERN, MAX_CLOCK_LEEWAY_S } from "./limits.js";
import { publicKeyOf } from "./signer-key.js";
import { signerAllows, type SignerRecord } from "./signer-record.js";
import { expiredToken, invalidToken, revokedToken, type TokenVerdict } from "./verdict.js";

export interface TokenVerifierDeps {
  /** The signer with this kid, undefined when unknown or deleted (SignerStore.signer). */
  signer(kid: string): SignerRecord | undefined;
  /** Whether this jti was revoked (RevokedTokens.isRevoked). */
  isRevoked(jti: string): boolean;
  nowMs(): number;
  /** TOKEN_MAX_TTL_S: the longest `exp - iat` accepted. */
  maxTtlS: number;
  /** Clock skew tolerated, seconds; default CLOCK_LEEWAY_S (5), never more than 30. */
  leewayS?: number;
}

export function verifyConnectionToken(token: string, deps: TokenVerifierDeps): TokenVerdict {
  try {
    return verifyOrRefuse(token, deps);
  } catch (err) {
    // A throwing dependency must not open the door, nor crash the socket handler.
    return invalidToken(`verification failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function verifyOrRefuse(token: string, deps: TokenVerifierDeps): TokenVerdict {
  const parsed = parseCompactJws(token);
  if (!parsed.ok) return invalidToken(parsed.detail);
  const { header, payload, signingInput, signature } = parsed.jws;

  const headerProblem = checkHeader(header);
  if (headerProblem !== undefined) return invalidToken(headerProblem);
  const kid = header.kid as string;

  const checked = parseTokenClaims(payload);
  if (!checked.ok) return invalidToken(checked.detail);
  const claims = checked.value;

  // An unknown kid and a deleted (revoked) signer are the same thing: nobody vouches.
  const signer = deps.signer(kid);
  if (signer === undefined) return invalidToken(`unknown signer ${kid}`);
  if (!signerAllows(signer, claims.tenantId, claims.appId)) {
    return invalidToken(`signer ${kid} may not mint for ${claims.tenantId}/${claims.appId}`);
  }

  const timeProblem = checkLifetime(claims, deps);
  if (timeProblem !== undefined) return invalidToken(timeProblem);

  if (signature.length !== ED25519_SIGNATURE_BYTES) return invalidToken(`signature is ${signature.length} bytes, expected ${ED25519_SIGNATURE_BYTES}`);
  const key = publicKeyOf(signer);
  if (key === undefined) return invalidToken(`signer ${kid} has an unusable public key`);
  // The one expensive step. Ed25519 takes no digest argument (null).
  if (!verify(null, Buffer.from(signingInput, "utf8"), key, signature)) return invalidToken(`bad signature (signer ${kid})`);

  // Only an authentic token is told it is revoked or expired.
  if (claims.jti !== undefined && deps.isRevoked(claims.jti)) return revokedToken(`jti ${claims.jti} revoked`);
  const leewayS = leeway(deps);
  const nowS = deps.nowMs() / 1000;
  if (nowS >= claims.exp + leewayS) return expiredToken(`expired ${Math.round(nowS - claims.exp)} s ago`);

  return {
    ok: true,
    claims,
    scope: { role: "app", tenantId: claims.tenantId, appId: claims.appId },
    kid,
    expMs: claims.exp * 1000,
  };
}

/** A problem with the protected header, or undefined. */
function checkHeader(header: JsonObject): string | undefined {
  // Exactly EdDSA: never "none", never an HMAC keyed with the public key (the classic
  // algorithm-confusion attack), never anything the header might otherwise talk us into.
  if (header.alg !== "EdDSA") return `alg ${describe(header.alg)} is not accepted (EdDSA only)`;
  if (header.typ !== undefined && (typeof header.typ !== "string" || !/^(application\/)?jwt$/i.test(header.typ))) {
    return `typ ${describe(header.typ)} is not JWT`;
  }
  // RFC 7515 4.1.11: extensions listed in crit must be understood; we understand none.
  if (header.crit !== undefined) return "crit header extensions are not supported";
  if (typeof header.kid !== "string" || !KID_PATTERN.test(header.kid)) return `kid must be a string matching ${KID_PATTERN}`;
  return undefined;
}

/** A problem with exp/iat/nbf other than expiry itself, or undefined. */
function checkLifetime(claims: ConnectionTokenClaims, deps: TokenVerifierDeps): string | undefined {
  const lifetimeS = claims.exp - claims.iat;
  if (lifetimeS <= 0) return "exp is not after iat";
  if (lifetimeS > deps.maxTtlS) return `lifetime ${lifetimeS} s exceeds TOKEN_MAX_TTL_S (${deps.maxTtlS} s)`;
  const nowS = deps.nowMs() / 1000;
  const leewayS = leeway(deps);
  // Without this, a token "issued" next year would outlive the TTL cap by a year.
  if (claims.iat > nowS + leewayS) return "iat is in the future";
  if (claims.nbf !== undefined && claims.nbf > nowS + leewayS) return "not valid before nbf";
  return undefined;
}

function leeway(deps: TokenVerifierDeps): number {
  const s = deps.leewayS ?? CLOCK_LEEWAY_S;
  return Number.isFinite(s) ? Math.min(Math.max(s, 0), MAX_CLOCK_LEEWAY_S) : CLOCK_LEEWAY_S;
}

/** A header value for a log line, short and never huge. */
function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 24 ? `${text.slice(0, 24)}...` : text;
}

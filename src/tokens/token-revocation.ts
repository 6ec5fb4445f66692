/** Single-token revocation: `sms-ws tokens revoke JTI` puts the jti in `sms_revoked_tokens`. */
import type { KV } from "@nats-io/kv";
import { TokenAdminError } from "./admin-error.js";
import { JTI_PATTERN } from "./limits.js";

/**
 * Revokes every token carrying this jti. The entry expires with the bucket's TTL
 * (TOKEN_MAX_TTL_S), by which time every token that could carry it has expired too.
 */
export async function revokeTokenId(kv: KV, jti: string, now: Date = new Date()): Promise<void> {
  if (!JTI_PATTERN.test(jti)) throw new TokenAdminError(`jti must match ${JTI_PATTERN}`);
  await kv.put(jti, JSON.stringify({ revokedAt: now.toISOString() }));
}

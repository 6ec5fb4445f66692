/** Single-token revocation: `sms-ws tokens revoke JTI` puts the jti in `sms_revoked_tokens`. */
import type { KV } from "@nats-io/kv";
import { TokenAdminError } from "./admin-error.js";
import { JTI_PATTERN } from "./limits.js";
import { REVOCATION_REASON_MAX_LENGTH, revocationValue } from "./revocation-record.js";

/**
 * Revokes every token carrying this jti. The entry expires with the bucket's TTL
 * (TOKEN_MAX_TTL_S), by which time every token that could carry it has expired too. The value's
 * format is revocation-record.ts's: nodes ignore any other value under a jti.
 */
export async function revokeTokenId(kv: KV, jti: string, now: Date = new Date(), reason?: string): Promise<void> {
  if (!JTI_PATTERN.test(jti)) throw new TokenAdminError(`jti must match ${JTI_PATTERN}`);
  if (reason !== undefined && reason.length > REVOCATION_REASON_MAX_LENGTH) {
    throw new TokenAdminError(`--reason is at most ${REVOCATION_REASON_MAX_LENGTH} characters`);
  }
  await kv.put(jti, revocationValue(now, reason));
}

/**
 * The value of a revoked-token entry (`sms_revoked_tokens`, key = jti): what the writer
 * (`sms-ws tokens revoke`, token-revocation.ts) puts and what every node accepts as a revocation,
 * in one place so the two cannot drift.
 *
 * Format: JSON `{"revokedAt": "<ISO 8601 date-time>", "reason"?: "<at most 200 characters>"}`,
 * no other field. Every version of the writer so far wrote exactly `{"revokedAt": <toISOString()>}`,
 * which this accepts unchanged, so entries already in the bucket keep revoking after an upgrade.
 * Anything else (a JetStream answer written there through a reply subject, an empty or binary
 * value) is not a revocation (docs/security.md, "Bucket values").
 */

export interface RevocationRecord {
  readonly revokedAt: string;
  readonly reason?: string;
}

export const REVOCATION_REASON_MAX_LENGTH = 200;

/** An ISO 8601 UTC or offset date-time, as `Date.prototype.toISOString` writes (seconds required). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The revocation in a bucket value; null when the value is not one. */
export function parseRevocationRecord(value: unknown): RevocationRecord | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (Object.keys(o).some((k) => k !== "revokedAt" && k !== "reason")) return null;
  if (typeof o.revokedAt !== "string" || !ISO_DATE_TIME.test(o.revokedAt) || Number.isNaN(Date.parse(o.revokedAt))) return null;
  if (o.reason !== undefined && (typeof o.reason !== "string" || o.reason.length > REVOCATION_REASON_MAX_LENGTH)) return null;
  return o.reason === undefined ? { revokedAt: o.revokedAt } : { revokedAt: o.revokedAt, reason: o.reason };
}

/** The bucket value revoking a token now. Throws on a reason that the parser would refuse. */
export function revocationValue(now: Date, reason?: string): string {
  const record: RevocationRecord = reason === undefined ? { revokedAt: now.toISOString() } : { revokedAt: now.toISOString(), reason };
  if (parseRevocationRecord(record) === null) throw new RangeError(`a revocation reason is at most ${REVOCATION_REASON_MAX_LENGTH} characters`);
  return JSON.stringify(record);
}

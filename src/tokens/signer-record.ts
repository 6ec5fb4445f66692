/**
 * Token signers as stored in the KV bucket `sms_token_signers` (README.md, "Connection tokens"): key = kid, value =
 * JSON `{tenantId, appId?, publicKey, label?, createdAt}`. Only public keys are ever stored.
 */
import { randomBytes } from "node:crypto";
import { ID_PATTERN, TENANT_WIDE_APP } from "../events/event.js";
import { decodeBase64Url } from "./base64url.js";
import { ED25519_KEY_BYTES } from "./limits.js";

export interface SignerRecord {
  readonly tenantId: string;
  /** Absent: the signer may mint tokens for any app of its tenant. */
  readonly appId?: string;
  /** base64url of the raw 32-byte Ed25519 public key. */
  readonly publicKey: string;
  readonly label?: string;
  readonly createdAt: string;
}

/** Validate a stored value; null when it is not a signer record (the watcher ignores it and keeps the last valid one). */
export function parseSignerRecord(value: unknown): SignerRecord | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (typeof o.tenantId !== "string" || !ID_PATTERN.test(o.tenantId)) return null;
  if (o.appId !== undefined && (typeof o.appId !== "string" || !ID_PATTERN.test(o.appId) || o.appId === TENANT_WIDE_APP)) {
    return null;
  }
  if (typeof o.publicKey !== "string" || decodeBase64Url(o.publicKey)?.length !== ED25519_KEY_BYTES) return null;
  if (o.label !== undefined && typeof o.label !== "string") return null;
  return Object.freeze({
    tenantId: o.tenantId,
    ...(o.appId === undefined ? {} : { appId: o.appId as string }),
    publicKey: o.publicKey,
    ...(o.label === undefined ? {} : { label: o.label as string }),
    createdAt: typeof o.createdAt === "string" ? o.createdAt : "",
  });
}

/** Whether the signer may mint a token for this tenant and app. */
export function signerAllows(signer: SignerRecord, tenantId: string, appId: string): boolean {
  return signer.tenantId === tenantId && (signer.appId === undefined || signer.appId === appId);
}

/**
 * Whether two records let the same tokens through: same scope and same key. Anything else
 * (a narrower scope, another key) revokes the sockets authenticated with the old one; a label
 * change does not.
 */
export function sameSignerGrant(a: SignerRecord, b: SignerRecord): boolean {
  return a.tenantId === b.tenantId && a.appId === b.appId && a.publicKey === b.publicKey;
}

/** A new signer id: `sig_` and 12 random bytes (base64url), within KID_PATTERN. */
export function generateKid(): string {
  return `sig_${randomBytes(12).toString("base64url")}`;
}

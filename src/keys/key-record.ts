/** API-key records as stored in the KV bucket (README.md, "API keys"). Plaintext keys never stored. */
import { createHash, randomBytes } from "node:crypto";
import { ID_PATTERN, TENANT_WIDE_APP } from "../events/event.js";
import type { Scope } from "../scope/scope.js";

export type KeyRecord =
  | { role: "admin"; label?: string; createdAt: string }
  | { role: "app"; tenantId: string; appId: string; label?: string; createdAt: string };

/** Lowercase hex SHA-256 of the API key: the KV key. */
export function hashApiKey(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

/** At most this much of a hash appears in logs. */
export function hashPrefix(hash: string): string {
  return hash.slice(0, 8);
}

/** A new random API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  return `smsws_${randomBytes(32).toString("base64url")}`;
}

/** Validate a stored record; null when the value is not a key record (the watcher ignores it and keeps the last valid one). */
export function parseKeyRecord(value: unknown): KeyRecord | null {
  if (typeof value !== "object" || value === null) return null;
  const o = value as Record<string, unknown>;
  const createdAt = typeof o.createdAt === "string" ? o.createdAt : "";
  const label = typeof o.label === "string" ? o.label : undefined;
  if (o.role === "admin") {
    // An admin record naming a tenant or app was meant to be narrower than global admin:
    // granting everything would be the wrong way to read it.
    if (o.tenantId !== undefined || o.appId !== undefined) return null;
    return { role: "admin", createdAt, ...(label === undefined ? {} : { label }) };
  }
  if (o.role !== "app") return null;
  if (typeof o.tenantId !== "string" || !ID_PATTERN.test(o.tenantId)) return null;
  if (typeof o.appId !== "string" || !ID_PATTERN.test(o.appId) || o.appId === TENANT_WIDE_APP) return null;
  return { role: "app", tenantId: o.tenantId, appId: o.appId, createdAt, ...(label === undefined ? {} : { label }) };
}

export function scopeOfRecord(record: KeyRecord): Scope {
  if (record.role === "admin") return { role: "admin" };
  return { role: "app", tenantId: record.tenantId, appId: record.appId };
}

/** Whether two records grant the same scope (a label change is not a scope change). */
export function sameGrant(a: KeyRecord, b: KeyRecord): boolean {
  if (a.role === "admin" || b.role === "admin") return a.role === b.role;
  return a.tenantId === b.tenantId && a.appId === b.appId;
}

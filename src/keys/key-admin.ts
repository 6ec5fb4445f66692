/** Key management over the KV bucket: create, revoke, list. Used by the `sms-ws keys` CLI. */
import type { KV } from "@nats-io/kv";
import { GatewayError } from "../errors.js";
import { ID_PATTERN, TENANT_WIDE_APP } from "../events/event.js";
import { generateApiKey, hashApiKey, parseKeyRecord, type KeyRecord } from "./key-record.js";

export interface CreatedKey {
  apiKey: string;
  keyHash: string;
  role: "app" | "admin";
  tenantId?: string;
  appId?: string;
}

export interface CreateKeyInput {
  role: "app" | "admin";
  tenantId?: string;
  appId?: string;
  label?: string;
}

export class KeyAdminError extends GatewayError {
  constructor(message: string) {
    super("KEY_ADMIN", message);
  }
}

export async function createKey(kv: KV, input: CreateKeyInput, apiKey = generateApiKey()): Promise<CreatedKey> {
  const createdAt = new Date().toISOString();
  const label = input.label === undefined ? {} : { label: input.label };
  let record: KeyRecord;
  if (input.role === "admin") {
    if (input.tenantId !== undefined || input.appId !== undefined) {
      throw new KeyAdminError("an admin key takes no --tenant or --app");
    }
    record = { role: "admin", ...label, createdAt };
  } else {
    if (input.tenantId === undefined || !ID_PATTERN.test(input.tenantId)) {
      throw new KeyAdminError(`--tenant must match ${ID_PATTERN}`);
    }
    if (input.appId === undefined || !ID_PATTERN.test(input.appId) || input.appId === TENANT_WIDE_APP) {
      throw new KeyAdminError(`--app must match ${ID_PATTERN} and not be "_"`);
    }
    record = { role: "app", tenantId: input.tenantId, appId: input.appId, ...label, createdAt };
  }
  const keyHash = hashApiKey(apiKey);
  await kv.create(keyHash, JSON.stringify(record));
  return record.role === "admin"
    ? { apiKey, keyHash, role: "admin" }
    : { apiKey, keyHash, role: "app", tenantId: record.tenantId, appId: record.appId };
}

export type ListedKey = KeyRecord & { keyHash: string };

export async function listKeys(kv: KV): Promise<ListedKey[]> {
  const out: ListedKey[] = [];
  const keys = await kv.keys();
  for await (const hash of keys) {
    const entry = await kv.get(hash);
    if (entry === null || entry.operation !== "PUT") continue;
    let record: KeyRecord | null = null;
    try {
      record = parseKeyRecord(entry.json());
    } catch {
      record = null;
    }
    if (record !== null) out.push({ keyHash: hash, ...record });
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/**
 * Revoke by plaintext key or by a hash prefix (at least 8 hex characters, and unambiguous).
 * Returns the full hash revoked.
 */
export async function revokeKey(kv: KV, keyOrPrefix: string): Promise<string> {
  let hash: string;
  if (/^[0-9a-f]{8,64}$/.test(keyOrPrefix)) {
    const matches = (await listKeys(kv)).map((k) => k.keyHash).filter((h) => h.startsWith(keyOrPrefix));
    if (matches.length === 0) {
      // Not a known hash prefix: maybe a plaintext key that happens to look like hex.
      hash = hashApiKey(keyOrPrefix);
    } else if (matches.length > 1) {
      throw new KeyAdminError(`hash prefix ${keyOrPrefix} is ambiguous (${matches.length} keys); give more characters`);
    } else {
      hash = matches[0] as string;
    }
  } else {
    hash = hashApiKey(keyOrPrefix);
  }
  const entry = await kv.get(hash);
  if (entry === null || entry.operation !== "PUT") throw new KeyAdminError("no such key");
  await kv.purge(hash);
  return hash;
}

/**
 * The tenants' fleet-wide quotas: KV bucket `sms_tenants`, key = tenant id, value
 * `{"maxConnections": N}` (no entry, or `{}`: no quota), watched like the key store. Lowering a
 * quota closes nothing: it applies to the next sockets. Only a delete or purge removes a quota: a
 * value with any other field, or not JSON, is rejected and the last valid quota stays (a
 * JetStream answer written into the bucket must not read as "no quota"; docs/security.md).
 */
import type { Logger } from "pino";
import { WatchedBucket, type RecordKind, type WatchSource } from "../keys/watched-bucket.js";
import type { QuotaSource } from "./quota.js";

export interface TenantRecord {
  readonly maxConnections?: number;
}

export function parseTenantRecord(value: unknown): TenantRecord | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  if (Object.keys(value).some((k) => k !== "maxConnections")) return null;
  const max = (value as { maxConnections?: unknown }).maxConnections;
  if (max === undefined) return {};
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 0) return null;
  return { maxConnections: max };
}

const TENANT_KIND: RecordKind<TenantRecord> = {
  noun: "tenant quota",
  bucket: "tenants",
  parse: (value) => parseTenantRecord(value),
  revokes: () => false,
};

export class TenantQuotas implements QuotaSource {
  readonly #view: WatchedBucket<TenantRecord>;

  constructor(kv: WatchSource, log: Logger) {
    this.#view = new WatchedBucket(kv, TENANT_KIND, log);
  }

  maxConnections(tenantId: string): number | undefined {
    return this.#view.get(tenantId)?.maxConnections;
  }

  get size(): number {
    return this.#view.size;
  }

  /** Resolves after the first complete load; keeps watching until stop(). */
  start(): Promise<void> {
    return this.#view.start();
  }

  stop(): void {
    this.#view.stop();
  }

  on(listener: Parameters<WatchedBucket<TenantRecord>["on"]>[0]): () => void {
    return this.#view.on(listener);
  }
}

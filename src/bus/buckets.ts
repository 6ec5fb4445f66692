/**
 * The KV buckets of the bus contract and the two ways to reach one. The node and the CLI open
 * buckets that `sms-ws provision` created; only provisioning (and `sms-ws dev`) creates them, since
 * the gateway's NATS user has no right to (docs/security.md).
 */
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** Default bucket names (the API-key bucket's name is configurable: KEY_BUCKET). */
export const BUCKETS = {
  apiKeys: "sms_api_keys",
  tokenSigners: "sms_token_signers",
  revokedTokens: "sms_revoked_tokens",
  tenants: "sms_tenants",
} as const;

/**
 * Consumers one bucket may have at once (W-6). A node holds one watch per bucket; an ordered
 * consumer re-created after a reconnect leaves the old one for up to 5 min (its inactive
 * threshold), and the CLI lists keys with one more: about 3 per node at worst, so 256 is ~80 nodes.
 * Set by provisioning where the server can (2.10+); the DATA account's per-stream cap bounds it too.
 */
export const BUCKET_MAX_CONSUMERS = 256;

export interface BucketOptions {
  replicas: number;
  /** Entries expire after this many ms (0: never). */
  ttlMs?: number;
}

/**
 * Open an existing bucket; fails when it does not exist (run `sms-ws provision`). Kvm.open only
 * binds, without asking the server: the status read is what finds a missing bucket.
 */
export async function openBucket(nc: NatsConnection, name: string): Promise<KV> {
  const kv = await new Kvm(nc).open(name);
  await kv.status();
  return kv;
}

/** Create a bucket, or open it when it exists with these settings (idempotent). */
export function createBucket(nc: NatsConnection, name: string, options: BucketOptions): Promise<KV> {
  return new Kvm(nc).create(name, { history: 1, replicas: options.replicas, ...(options.ttlMs ? { ttl: options.ttlMs } : {}) });
}

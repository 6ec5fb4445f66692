/**
 * Provisioning: create or update everything the fleet reads, with the admin NATS user, so the
 * gateway's own user never needs the right to create anything (docs/security.md):
 *   - the stream SMS_EVENTS (ensureStream: idempotent, safe to run from several places at once),
 *     or with STREAM_PARTITIONS=K > 1 the K streams SMS_EVENTS_0..K-1 (docs/partitioning.md); an
 *     existing single stream is then narrowed to the unmapped subjects, so that it no longer
 *     overlaps the partitions and stays readable until it ages out (the migration);
 *   - the KV buckets of API keys (KEY_BUCKET), token signers, revoked tokens (entries expire after
 *     TOKEN_MAX_TTL_S) and tenants, with STREAM_REPLICAS replicas.
 * Used by `sms-ws provision`, and by a node started with AUTO_PROVISION (`sms-ws dev`, tests).
 */
import { jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import { BUCKET_MAX_CONSUMERS, BUCKETS, createBucket } from "./buckets.js";
import { DURABLE_PREFIX, STREAM_NAME } from "./contract.js";
import { Partitions } from "./partitions.js";
import { ensureStream, streamInfo, updateMaxConsumers } from "./stream.js";

export type ProvisionAction = "created" | "updated" | "unchanged" | "skipped";

export interface ProvisionStep {
  kind: "stream" | "bucket";
  name: string;
  action: ProvisionAction;
  detail: string;
}

const NS_PER_S = 1_000_000_000;

/** The buckets of the bus contract with their settings. */
export function bucketPlan(config: Config): { name: string; ttlMs: number }[] {
  return [
    { name: config.keyBucket, ttlMs: 0 },
    { name: config.signerBucket, ttlMs: 0 },
    // A revoked token id only matters while the token could still be valid.
    { name: config.revokedTokensBucket, ttlMs: config.tokenMaxTtlS * 1000 },
    { name: BUCKETS.tenants, ttlMs: 0 },
  ];
}

/** Create or update the stream and the buckets. Idempotent. */
export async function provision(nc: NatsConnection, config: Config): Promise<ProvisionStep[]> {
  const steps: ProvisionStep[] = [];
  if (config.streamEnabled) {
    const partitions = new Partitions(config.streamPartitions);
    if (partitions.partitioned) {
      const legacy = await narrowLegacyStream(nc);
      if (legacy !== undefined) steps.push(legacy);
    }
    for (const p of partitions.all) {
      const before = await streamInfo(nc, p.stream);
      const after = await ensureStream(nc, config, p);
      steps.push({
        kind: "stream",
        name: p.stream,
        action: before === null ? "created" : sameStreamLimits(before.config, after.config) ? "unchanged" : "updated",
        detail: `replicas ${after.config.num_replicas}, max age ${after.config.max_age / NS_PER_S} s, max bytes ${after.config.max_bytes}, max consumers ${maxConsumers(after.config)}`,
      });
    }
  } else {
    steps.push({ kind: "stream", name: STREAM_NAME, action: "skipped", detail: "STREAM_ENABLED=false (direct path only)" });
  }
  const jsm = await jetstreamManager(nc);
  for (const bucket of bucketPlan(config)) {
    steps.push(await provisionBucket(nc, jsm, bucket.name, config.streamReplicas, bucket.ttlMs));
  }
  return steps;
}

/** The unmapped producer subjects: what the single stream keeps storing until the mapping is on. */
export const UNMAPPED_SUBJECTS = `${DURABLE_PREFIX}.*.*.*`;

/**
 * Migration to partitions: an existing SMS_EVENTS stores `in.sms.>`, which overlaps the partition
 * streams' `in.sms.<k>.*.*.*`, so JetStream would refuse to create them. Narrow it to the unmapped
 * subjects `in.sms.*.*.*` (what producers publish before the mapping is switched on), keeping its
 * events and its epoch. Undefined when there is no such stream.
 */
async function narrowLegacyStream(nc: NatsConnection): Promise<ProvisionStep | undefined> {
  const info = await streamInfo(nc, STREAM_NAME);
  if (info === null) return undefined;
  const detail = `subjects ${UNMAPPED_SUBJECTS} (kept readable until it ages out; docs/partitioning.md)`;
  if (info.config.subjects?.length === 1 && info.config.subjects[0] === UNMAPPED_SUBJECTS) return { kind: "stream", name: STREAM_NAME, action: "unchanged", detail };
  const jsm = await jetstreamManager(nc);
  // nats-server 2.9 cannot change RePublish on an update: `in.sms.>` -> `sms.>` stays, and still
  // covers every subject the narrowed stream stores.
  await jsm.streams.update(STREAM_NAME, { subjects: [UNMAPPED_SUBJECTS] });
  return { kind: "stream", name: STREAM_NAME, action: "updated", detail };
}

type Jsm = Awaited<ReturnType<typeof jetstreamManager>>;

async function provisionBucket(nc: NatsConnection, jsm: Jsm, name: string, replicas: number, ttlMs: number): Promise<ProvisionStep> {
  const stream = `KV_${name}`;
  const wantedAge = ttlMs * 1_000_000;
  const detail = (c: StreamConfig): string => `replicas ${replicas}, ttl ${ttlMs === 0 ? "none" : `${ttlMs / 1000} s`}, max consumers ${maxConsumers(c)}`;
  const info = await streamInfo(nc, stream);
  if (info === null) {
    // Kvm.create takes no max_consumers: it is set right after, by the update below.
    await createBucket(nc, name, { replicas, ttlMs });
  }
  const current = info ?? (await streamInfo(nc, stream));
  if (current === null) throw new Error(`bucket ${name} vanished while being provisioned`);
  // Kvm.create leaves an existing bucket as it is: bring its replicas, TTL and consumer bound to ours here.
  const c = current.config;
  if (c.num_replicas === replicas && c.max_age === wantedAge && c.max_consumers === BUCKET_MAX_CONSUMERS) {
    return { kind: "bucket", name, action: info === null ? "created" : "unchanged", detail: detail(c) };
  }
  const after = await updateMaxConsumers(c.max_consumers, BUCKET_MAX_CONSUMERS, (extra) => jsm.streams.update(stream, { num_replicas: replicas, max_age: wantedAge, ...extra }));
  const changed = info !== null && (c.num_replicas !== replicas || c.max_age !== wantedAge || after.config.max_consumers !== c.max_consumers);
  return { kind: "bucket", name, action: info === null ? "created" : changed ? "updated" : "unchanged", detail: detail(after.config) };
}

/** A stream's consumer bound as provisioning reports it: its own, or the DATA account's per-stream cap (-1). */
function maxConsumers(c: StreamConfig): string {
  return c.max_consumers === undefined || c.max_consumers < 0 ? "account cap" : String(c.max_consumers);
}

function sameStreamLimits(a: StreamConfig, b: StreamConfig): boolean {
  return (
    a.max_age === b.max_age &&
    a.max_bytes === b.max_bytes &&
    a.num_replicas === b.num_replicas &&
    a.max_consumers === b.max_consumers &&
    a.republish?.src === b.republish?.src &&
    a.republish?.dest === b.republish?.dest
  );
}

/**
 * The durable path: stream SMS_EVENTS stores the stored subjects and republishes every stored event
 * to its live subject with the sequence headers (src/bus/contract.ts). ensureStream (provisioning)
 * is idempotent and safe when many nodes start at once; a node that may not create streams only
 * reads the stream's info (checkStream).
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import { STREAM_NAME } from "./contract.js";
import { Partitions, type Partition } from "./partitions.js";

type StreamSettings = Pick<Config, "streamStorage" | "streamMaxAgeS" | "streamMaxBytes" | "streamReplicas">;

/**
 * Consumers one event stream may have at once (W-6: without a bound, one gateway password could
 * create them without end). What a node legitimately holds on a stream: one ordered consumer per
 * filter of each read in progress, RESUME_CONCURRENCY (8) + HISTORY_CONCURRENCY (16) reads plus
 * gap repairs, each deleted when done: about 32 at the default settings, at full load. 1024 is
 * 32 such nodes at full load. Also the DATA account's per-stream cap (src/bus/nats-accounts.ts),
 * which bounds streams provisioned before this setting on servers that cannot update it (2.9).
 */
export const STREAM_MAX_CONSUMERS = 1024;

/** The single stream SMS_EVENTS (STREAM_PARTITIONS=1): the default partition everywhere below. */
export const SINGLE: Partition = new Partitions(1).all[0] as Partition;

export function streamConfig(config: StreamSettings, p: Partition = SINGLE): Partial<StreamConfig> & { name: string } {
  return {
    name: p.stream,
    subjects: [p.storedSubjects],
    retention: RetentionPolicy.Limits,
    storage: config.streamStorage === "memory" ? StorageType.Memory : StorageType.File,
    max_age: config.streamMaxAgeS * 1_000_000_000,
    max_bytes: config.streamMaxBytes,
    num_replicas: config.streamReplicas,
    // Producers retrying a publish with the same Nats-Msg-Id within 2 min store it once.
    duplicate_window: 120 * 1_000_000_000,
    allow_direct: true,
    max_consumers: STREAM_MAX_CONSUMERS,
    republish: { src: p.republish.src, dest: p.republish.dest },
  };
}

/**
 * The stream's incarnation: its creation time. A re-created stream has new sequences. With
 * partitions, `p<k>/<K>@<creation time>`: the epoch also names the partition and the partition
 * count, so a position is never taken for one of another partition or of another K.
 */
export function epochOf(info: StreamInfo, p: Partition = SINGLE): string {
  const created = new Date(info.created).toISOString();
  return p.count === 1 ? created : `p${p.index}/${p.count}@${created}`;
}

/**
 * Create SMS_EVENTS, or bring an existing one to our limits. Concurrent creators: the loser of
 * the race gets "already in use" and falls back to reading/updating, which is idempotent.
 */
export async function ensureStream(nc: NatsConnection, config: StreamSettings, p: Partition = SINGLE): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const wanted = streamConfig(config, p);
  for (let attempt = 0; ; attempt++) {
    const info = await streamInfo(nc, p.stream);
    if (info !== null) {
      const c = info.config;
      const differs =
        c.max_age !== wanted.max_age ||
        c.max_bytes !== wanted.max_bytes ||
        c.republish?.src !== wanted.republish?.src ||
        c.republish?.dest !== wanted.republish?.dest ||
        c.num_replicas !== wanted.num_replicas ||
        !sameMaxConsumers(c.max_consumers, wanted.max_consumers);
      if (!differs) return info;
      const update = { max_age: wanted.max_age, max_bytes: wanted.max_bytes, republish: wanted.republish, num_replicas: wanted.num_replicas };
      return await updateMaxConsumers(c.max_consumers, wanted.max_consumers, (extra) => jsm.streams.update(p.stream, { ...update, ...extra }));
    }
    try {
      return await jsm.streams.add(wanted);
    } catch (err) {
      // Another node created it between our info and add: loop back to info.
      if (attempt >= 3) throw err;
    }
  }
}

/**
 * A stream created before max_consumers was provisioned has -1 (no limit of its own): nats-server
 * 2.9 cannot change that on an update ("can not change MaxConsumers"), 2.10+ can. Where the
 * server refuses, the stream keeps -1 and the DATA account's per-stream cap bounds it.
 */
function sameMaxConsumers(have: number | undefined, want: number | undefined): boolean {
  return have === want || want === undefined;
}

/** Run an update with max_consumers when it changes; again without it when the server cannot change it. */
export async function updateMaxConsumers<T>(have: number | undefined, want: number | undefined, update: (extra: { max_consumers?: number }) => Promise<T>): Promise<T> {
  if (sameMaxConsumers(have, want)) return await update({});
  try {
    return await update({ max_consumers: want });
  } catch (err) {
    if (!(err instanceof Error) || !/MaxConsumers/i.test(err.message)) throw err;
    return await update({});
  }
}

/** Current info of the stream (SMS_EVENTS unless named), or null when it does not exist. */
export async function streamInfo(nc: NatsConnection, name: string = STREAM_NAME): Promise<StreamInfo | null> {
  const jsm = await jetstreamManager(nc);
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
}

/** The stream must exist and republish to the live subjects; throws saying what is wrong. */
export async function checkStream(nc: NatsConnection, p: Partition = SINGLE): Promise<StreamInfo> {
  const info = await streamInfo(nc, p.stream);
  if (info === null) throw new Error(`stream ${p.stream} does not exist: run \`sms-ws provision\``);
  const republish = info.config.republish;
  if (republish?.src !== p.republish.src || republish.dest !== p.republish.dest) {
    throw new Error(`stream ${p.stream} does not republish ${p.republish.src} to ${p.republish.dest}: run \`sms-ws provision\``);
  }
  return info;
}

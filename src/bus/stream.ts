/**
 * The durable path: stream SMS_EVENTS stores `in.sms.>` and republishes every stored event to the
 * live subject `sms.>` with Nats-Sequence / Nats-Last-Sequence headers (SPEC section 2).
 * ensureStream is idempotent and safe when many nodes start at once.
 */
import { jetstreamManager, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import { DURABLE_PREFIX, LIVE_PREFIX, STREAM_NAME } from "../scope/subjects.js";

export function streamConfig(config: Config): Partial<StreamConfig> & { name: string } {
  return {
    name: STREAM_NAME,
    subjects: [`${DURABLE_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: config.streamStorage === "memory" ? StorageType.Memory : StorageType.File,
    max_age: config.streamMaxAgeS * 1_000_000_000,
    max_bytes: config.streamMaxBytes,
    num_replicas: config.streamReplicas,
    // Producers retrying a publish with the same Nats-Msg-Id within 2 min store it once.
    duplicate_window: 120 * 1_000_000_000,
    allow_direct: true,
    republish: { src: `${DURABLE_PREFIX}.>`, dest: `${LIVE_PREFIX}.>` },
  };
}

/** The stream's incarnation: its creation time. A re-created stream has new sequences. */
export function epochOf(info: StreamInfo): string {
  return new Date(info.created).toISOString();
}

/**
 * Create SMS_EVENTS, or bring an existing one to our limits. Concurrent creators: the loser of
 * the race gets "already in use" and falls back to reading/updating, which is idempotent.
 */
export async function ensureStream(nc: NatsConnection, config: Config): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const wanted = streamConfig(config);
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(STREAM_NAME);
      const c = info.config;
      const differs =
        c.max_age !== wanted.max_age ||
        c.max_bytes !== wanted.max_bytes ||
        c.republish?.src !== wanted.republish?.src ||
        c.republish?.dest !== wanted.republish?.dest ||
        c.num_replicas !== wanted.num_replicas;
      if (!differs) return info;
      return await jsm.streams.update(STREAM_NAME, {
        max_age: wanted.max_age,
        max_bytes: wanted.max_bytes,
        republish: wanted.republish,
        num_replicas: wanted.num_replicas,
      });
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
    try {
      return await jsm.streams.add(wanted);
    } catch (err) {
      // Another node created it between our info and add: loop back to info.
      if (attempt >= 3) throw err;
    }
  }
}

/** Current stream info, or null when the stream does not exist. */
export async function streamInfo(nc: NatsConnection): Promise<StreamInfo | null> {
  const jsm = await jetstreamManager(nc);
  try {
    return await jsm.streams.info(STREAM_NAME);
  } catch (err) {
    if (isStreamNotFound(err)) return null;
    throw err;
  }
}

function isStreamNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: number | string; api_error?: { err_code?: number }; message?: string };
  return e?.name === "StreamNotFoundError" || e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}

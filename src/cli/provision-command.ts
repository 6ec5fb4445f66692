/**
 * `sms-ws provision`: with the admin NATS user, create or update everything the fleet reads, so
 * the gateway's own user never needs the right to create anything (docs/security.md):
 *   - the stream SMS_EVENTS (ensureStream: idempotent, safe to run from several places at once);
 *   - the KV buckets sms_api_keys (KEY_BUCKET), sms_token_signers, sms_revoked_tokens (entries
 *     expire after TOKEN_MAX_TTL_S) and sms_tenants, with STREAM_REPLICAS replicas.
 * Prints one line per resource: created, updated or unchanged.
 *
 * `sms-ws provision --print-nats-config [--direct-producer]` prints the nats-server authorization
 * block rendered from src/bus/permissions.ts (passwords as $ENV references) and connects nowhere.
 */
import { jetstreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BUCKETS, createBucket } from "../bus/buckets.js";
import { DEFAULT_ROLES, permissionMatrix, renderAuthorization } from "../bus/permissions.js";
import { ensureStream, streamInfo } from "../bus/stream.js";
import type { Config } from "../config/config.js";
import { ConfigError } from "../errors.js";
import { STREAM_NAME } from "../scope/subjects.js";
import type { ParsedArgs } from "./args.js";
import { cliConnect } from "./connect.js";

export type ProvisionAction = "created" | "updated" | "unchanged" | "skipped";

export interface ProvisionStep {
  kind: "stream" | "bucket";
  name: string;
  action: ProvisionAction;
  detail: string;
}

const NS_PER_S = 1_000_000_000;
const DEFAULT_TOKEN_MAX_TTL_S = 86_400;

/**
 * TOKEN_MAX_TTL_S: the config's value once it has the setting, else the environment, else
 * 86 400 s. Revocations of single tokens need to live no longer than the longest token.
 */
export function tokenMaxTtlS(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): number {
  const fromConfig = (config as Partial<Record<"tokenMaxTtlS", unknown>>).tokenMaxTtlS;
  if (typeof fromConfig === "number") return fromConfig;
  const raw = env.TOKEN_MAX_TTL_S;
  if (raw === undefined || raw.trim() === "") return DEFAULT_TOKEN_MAX_TTL_S;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError("TOKEN_MAX_TTL_S", raw, "an integer number of seconds, at least 1");
  }
  return value;
}

/** The buckets of the bus contract with their settings. */
export function bucketPlan(config: Config, ttlS: number): { name: string; ttlMs: number }[] {
  return [
    { name: config.keyBucket, ttlMs: 0 },
    { name: BUCKETS.tokenSigners, ttlMs: 0 },
    { name: BUCKETS.revokedTokens, ttlMs: ttlS * 1000 },
    { name: BUCKETS.tenants, ttlMs: 0 },
  ];
}

/** Create or update the stream and the buckets. Idempotent. */
export async function provision(nc: NatsConnection, config: Config, ttlS: number): Promise<ProvisionStep[]> {
  const steps: ProvisionStep[] = [];
  if (config.streamEnabled) {
    const before = await streamInfo(nc);
    const after = await ensureStream(nc, config);
    steps.push({
      kind: "stream",
      name: STREAM_NAME,
      action: before === null ? "created" : sameStreamLimits(before.config, after.config) ? "unchanged" : "updated",
      detail: `replicas ${after.config.num_replicas}, max age ${after.config.max_age / NS_PER_S} s, max bytes ${after.config.max_bytes}`,
    });
  } else {
    steps.push({ kind: "stream", name: STREAM_NAME, action: "skipped", detail: "STREAM_ENABLED=false (direct path only)" });
  }
  const jsm = await jetstreamManager(nc);
  for (const bucket of bucketPlan(config, ttlS)) {
    steps.push(await provisionBucket(nc, jsm, bucket.name, config.streamReplicas, bucket.ttlMs));
  }
  return steps;
}

type Jsm = Awaited<ReturnType<typeof jetstreamManager>>;

async function provisionBucket(nc: NatsConnection, jsm: Jsm, name: string, replicas: number, ttlMs: number): Promise<ProvisionStep> {
  const stream = `KV_${name}`;
  const wantedAge = ttlMs * 1_000_000;
  const detail = `replicas ${replicas}, ttl ${ttlMs === 0 ? "none" : `${ttlMs / 1000} s`}`;
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (info === null) {
    await createBucket(nc, name, { replicas, ttlMs });
    return { kind: "bucket", name, action: "created", detail };
  }
  // Kvm.create leaves an existing bucket as it is: bring its replicas and TTL to ours here.
  if (info.config.num_replicas === replicas && info.config.max_age === wantedAge) {
    return { kind: "bucket", name, action: "unchanged", detail };
  }
  await jsm.streams.update(stream, { num_replicas: replicas, max_age: wantedAge });
  return { kind: "bucket", name, action: "updated", detail };
}

function sameStreamLimits(a: StreamConfig, b: StreamConfig): boolean {
  return (
    a.max_age === b.max_age &&
    a.max_bytes === b.max_bytes &&
    a.num_replicas === b.num_replicas &&
    a.republish?.src === b.republish?.src &&
    a.republish?.dest === b.republish?.dest
  );
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; api_error?: { err_code?: number }; message?: string };
  return e?.name === "StreamNotFoundError" || e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}

export async function provisionCommand(
  config: Config,
  args: ParsedArgs,
  out: (line: string) => void,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<void> {
  if (args.flags.has("print-nats-config")) {
    const roles = args.flags.has("direct-producer") ? [...DEFAULT_ROLES, "directProducer" as const] : DEFAULT_ROLES;
    out(renderAuthorization({ roles, matrix: permissionMatrix({ apiKeys: config.keyBucket }) }).trimEnd());
    return;
  }
  const ttlS = tokenMaxTtlS(config, env);
  const nc = await cliConnect(config);
  try {
    for (const step of await provision(nc, config, ttlS)) {
      out(`${step.kind} ${step.name}: ${step.action} (${step.detail})`);
    }
  } finally {
    await nc.close();
  }
}

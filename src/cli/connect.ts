/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { PERMISSIONS, type RoleName } from "../bus/permissions.js";
import type { Config } from "../config/config.js";

/**
 * Connect as `role` (default admin: keys, signers, tokens, provision). The role picks the inbox
 * prefix its NATS user may subscribe to (src/bus/permissions.ts); the credentials come from
 * NATS_USER/NATS_PASSWORD (or NATS_TOKEN).
 */
export async function cliConnect(config: Config, role: RoleName = "admin"): Promise<NatsConnection> {
  try {
    return await connectOnce(config, role);
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${config.natsServers.join(",")} (set NATS_URL): ${(err as Error).message}`, { cause: err });
  }
}

function connectOnce(config: Config, role: RoleName): Promise<NatsConnection> {
  return connect({
    servers: [...config.natsServers],
    name: "sms-ws-cli",
    timeout: 5000,
    inboxPrefix: PERMISSIONS[role].inboxPrefix,
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPassword } : {}),
    ...(config.natsToken ? { token: config.natsToken } : {}),
  });
}

export function openKeyBucket(nc: NatsConnection, config: Config): Promise<KV> {
  return new Kvm(nc).create(config.keyBucket, { history: 1, replicas: config.streamReplicas });
}

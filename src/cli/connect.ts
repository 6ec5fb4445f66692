/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import { redactServers } from "../log.js";

export async function cliConnect(config: Config): Promise<NatsConnection> {
  try {
    return await connectOnce(config);
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${redactServers(config.natsServers).join(",")} (set NATS_URL): ${(err as Error).message}`, { cause: err });
  }
}

function connectOnce(config: Config): Promise<NatsConnection> {
  return connect({
    servers: [...config.natsServers],
    name: "sms-ws-cli",
    timeout: 5000,
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPassword } : {}),
    ...(config.natsToken ? { token: config.natsToken } : {}),
  });
}

export function openKeyBucket(nc: NatsConnection, config: Config): Promise<KV> {
  return new Kvm(nc).create(config.keyBucket, { history: 1, replicas: config.streamReplicas });
}

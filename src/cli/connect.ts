/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { openBucket } from "../bus/buckets.js";
import type { Config } from "../config/config.js";

export async function cliConnect(config: Config): Promise<NatsConnection> {
  try {
    return await connectOnce(config);
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${config.natsServers.join(",")} (set NATS_URL): ${(err as Error).message}`, { cause: err });
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

/**
 * Opens a bucket that provisioning created (the CLI never creates one: its NATS user may not
 * have the right to, and a typo in a bucket name must not silently create an empty bucket).
 */
export async function cliOpenBucket(nc: NatsConnection, name: string): Promise<KV> {
  try {
    const kv = await openBucket(nc, name);
    // Opening only binds a handle; asking for the status is what finds a missing bucket.
    await kv.status();
    return kv;
  } catch (err) {
    throw new Error(`cannot open the KV bucket ${name} (create the buckets with sms-ws provision): ${(err as Error).message}`, { cause: err });
  }
}

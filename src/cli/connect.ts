/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { openBucket } from "../bus/buckets.js";
import { natsOptions } from "../bus/nats-connection.js";
import type { RoleName } from "../bus/permissions.js";
import type { Config } from "../config/config.js";
import { redactServers } from "../log.js";

/**
 * Connect as `role` (default admin: keys, signers, tokens, provision). The role picks the inbox
 * prefix its NATS user may subscribe to (src/bus/permissions.ts); the credentials come from
 * NATS_USER/NATS_PASSWORD (or NATS_TOKEN).
 */
export async function cliConnect(config: Config, role: RoleName = "admin"): Promise<NatsConnection> {
  try {
    return await connect({ ...natsOptions(config, "sms-ws-cli", role), timeout: 5000 });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${redactServers(config.natsServers).join(",")} (set NATS_URL): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Opens a bucket that provisioning created (the CLI never creates one: its NATS user may not
 * have the right to, and a typo in a bucket name must not silently create an empty bucket).
 */
export async function cliOpenBucket(nc: NatsConnection, name: string): Promise<KV> {
  try {
    return await openBucket(nc, name);
  } catch (err) {
    throw new Error(`cannot open the KV bucket ${name} (create the buckets with sms-ws provision): ${(err as Error).message}`, { cause: err });
  }
}

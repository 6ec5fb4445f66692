/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import { connect, type NatsConnection } from "@nats-io/transport-node";
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

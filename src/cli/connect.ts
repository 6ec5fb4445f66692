/** Short-lived NATS connection for the CLI commands (fail fast, unlike the node). */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsOptions } from "../bus/nats-connection.js";
import type { Config } from "../config/config.js";
import { redactServers } from "../log.js";

export async function cliConnect(config: Config): Promise<NatsConnection> {
  try {
    return await connect({ ...natsOptions(config, "sms-ws-cli"), timeout: 5000 });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${redactServers(config.natsServers).join(",")} (set NATS_URL): ${(err as Error).message}`, { cause: err });
  }
}

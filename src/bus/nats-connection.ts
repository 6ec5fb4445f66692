/**
 * NATS connections. natsOptions() is the one place that turns the configuration into connect
 * options (servers, name, credentials), for the node and the CLI alike. The node's connection
 * (connectBus) reconnects forever, never gives up, and reports its state as a tagged union that
 * readiness, metrics, logs and gap repair all read.
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { redactServers, redactUrl } from "../log.js";
import { PERMISSIONS, type RoleName } from "./permissions.js";

export type BusState =
  | { type: "disconnected"; server: string }
  | { type: "reconnected"; server: string }
  | { type: "closed" };

export interface BusConnection {
  readonly nc: NatsConnection;
  readonly connected: () => boolean;
  /** Follow state changes; returns the function that stops following. */
  onState(listener: (s: BusState) => void): () => void;
}

type NatsSettings = Pick<Config, "natsServers" | "natsUser" | "natsPassword" | "natsToken">;

/**
 * Servers, client name, credentials and the role's inbox prefix (its NATS user may subscribe to
 * that inbox only: src/bus/permissions.ts): what every connection of ours shares.
 */
export function natsOptions(config: NatsSettings, name: string, role: RoleName): ConnectionOptions {
  return {
    servers: [...config.natsServers],
    name,
    inboxPrefix: PERMISSIONS[role].inboxPrefix,
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPassword } : {}),
    ...(config.natsToken ? { token: config.natsToken } : {}),
  };
}

export async function connectBus(config: NatsSettings, log: Logger, name: string): Promise<BusConnection> {
  log.info({ servers: redactServers(config.natsServers) }, "connecting to NATS (retrying until it answers)");
  const nc = await connect({
    ...natsOptions(config, name, "gateway"),
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    // The first connect may race the NATS pods on a fresh deploy: keep trying instead of exiting.
    waitOnFirstConnect: true,
    // Notice a dead server within ~20 s even if TCP does not tell us.
    pingInterval: 10_000,
    maxPingOut: 2,
  });
  let connected = true;
  const listeners = new Set<(s: BusState) => void>();
  const onState = (s: BusState): void => {
    for (const listener of listeners) listener(s);
  };
  (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          connected = false;
          log.warn({ server: redactUrl(s.server) }, "nats disconnected");
          onState({ type: "disconnected", server: redactUrl(s.server) });
          break;
        case "reconnect":
          connected = true;
          log.info({ server: redactUrl(s.server) }, "nats reconnected");
          onState({ type: "reconnected", server: redactUrl(s.server) });
          break;
        case "ldm":
          log.warn({ server: redactUrl(s.server) }, "nats server entering lame duck mode");
          break;
        case "error":
          log.warn({ err: s.error }, "nats error");
          break;
        case "slowConsumer":
          log.warn({ subject: s.sub.getSubject(), pending: s.pending }, "nats slow consumer");
          break;
        default:
          break;
      }
    }
  })().catch((err: unknown) => log.error({ err }, "nats status loop ended"));
  nc.closed().then((err) => {
    connected = false;
    if (err) log.error({ err }, "nats connection closed with error");
    onState({ type: "closed" });
  });
  log.info({ server: redactUrl(nc.getServer()) }, "nats connected");
  return {
    nc,
    connected: () => connected && !nc.isClosed(),
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

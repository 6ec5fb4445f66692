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

/**
 * Stale-server detection: a PING every NATS_PING_INTERVAL_MS; when more than NATS_MAX_PINGS_OUT
 * are unanswered at the next tick, the connection is stale and the client reconnects elsewhere.
 * A frozen server (SIGSTOP, a silent network path: no FIN, no RST) is noticed after 4-6 s of
 * silence, so within 10 s; a path that stalls for up to 4 s is ridden out. The server answers a
 * PING in order with the data before it, so under load the answer waits for what is queued
 * ahead of it on the socket: `npm run bench:quick` (a saturating load) shows no reconnect
 * (README, "Reliability"). Was 10 s x 2 (~28 s measured).
 */
export const NATS_PING_INTERVAL_MS = 2000;
export const NATS_MAX_PINGS_OUT = 2;

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

const NAMED_CONSUMER_CREATE = /^(\$JS\.API\.CONSUMER\.CREATE\.[^.]+)\.[^.]+(?:\..+)?$/;

/**
 * The gateway creates its consumers with the legacy subject `$JS.API.CONSUMER.CREATE.<stream>`,
 * the only form nats-server refuses a durable name on (2.9.10 and 2.15.3: "consumer expected to
 * be ephemeral but a durable name was set in request"); its NATS user may not use the named form
 * `CREATE.<stream>.<name>[.<filter>]` (src/bus/permissions.ts, W-6). @nats-io/jetstream 3.4 picks
 * the named form on every 2.9+ server and refuses a consumer `name` (which its ordered consumers
 * always set) when the feature is disabled, so the subject is rewritten here, on the connection:
 * the request body already carries the name and the filter, which the legacy form reads. The
 * server still decides: a durable asked for either way is refused.
 */
export function useLegacyConsumerCreate(nc: NatsConnection): NatsConnection {
  const request = nc.request.bind(nc);
  nc.request = (subject, payload, opts) => request(subject.replace(NAMED_CONSUMER_CREATE, "$1"), payload, opts);
  return nc;
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
    // Notice a dead or frozen server within 10 s even if TCP does not tell us.
    pingInterval: NATS_PING_INTERVAL_MS,
    maxPingOut: NATS_MAX_PINGS_OUT,
  });
  useLegacyConsumerCreate(nc);
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

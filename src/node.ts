/**
 * A gateway node: wires config, NATS, the stream, the key store, the fan-out and the uWS server,
 * and owns the start-up and shutdown order.
 *
 * Start-up: metrics and WebSocket ports open first (/healthz 200, /readyz 503 with reasons,
 * upgrades 503); then NATS (retried forever), the stream, the key bucket and its first load;
 * only then are clients accepted.
 *
 * Shutdown (SIGTERM/SIGINT), step by step:
 *   1. draining: /readyz answers 503 and new upgrades are refused with 503 (the load balancer
 *      stops sending us clients; /healthz still answers so liveness does not kill us).
 *   2. after DRAIN_DELAY_MS: the listener closes.
 *   3. open sockets are closed with 1001, spread evenly over DRAIN_WINDOW_MS (no reconnect
 *      stampede onto the other nodes).
 *   4. the key-store watcher stops and the NATS connection drains.
 *   5. the metrics server closes and the process exits 0. If any step hangs, the process exits
 *      1 at SHUTDOWN_TIMEOUT_MS, still inside Kubernetes' grace period.
 */
import { Kvm } from "@nats-io/kv";
import type { Server } from "node:http";
import type { Logger } from "pino";
import { FeedRegistry } from "./bus/feed-registry.js";
import { connectBus, type BusConnection } from "./bus/nats-connection.js";
import { ensureStream, epochOf } from "./bus/stream.js";
import type { Config } from "./config/config.js";
import { KeyStore } from "./keys/key-store.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import { portOf, startMetricsServer } from "./metrics/metrics-server.js";
import { Fanout } from "./server/fanout.js";
import { Gateway } from "./server/gateway.js";
import { readiness } from "./server/readiness.js";
import { FeedContinuity } from "./resume/feed-continuity.js";
import { Replayer } from "./resume/replayer.js";
import { StreamReader } from "./resume/stream-reader.js";

export interface GatewayNode {
  readonly port: number;
  readonly metricsPort: number;
  readonly gateway: Gateway;
  readonly metrics: Metrics;
  readonly bus: BusConnection;
  readonly keyStore: KeyStore;
  /** Run the shutdown sequence; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
  /** Called at the start of the shutdown, before anything closes. */
  onDrainStart?: () => void;
}

export async function startNode(config: Config, log: Logger): Promise<GatewayNode> {
  const metrics = createMetrics({ tenants: config.metricsTenants });

  // Start-up order: HTTP first (so /healthz answers and /readyz says why the node is not ready
  // while NATS is unreachable), then NATS, the stream, the key store, and only then clients:
  // until the key store is loaded, upgrades are refused with 503 (never "Invalid API key").
  let bus: BusConnection | undefined;
  let keyStore: KeyStore | undefined;
  let fanout: Fanout | undefined;
  let replayer: Replayer | undefined;

  // The stream gates readiness only until it has been checked once: a later failed check (a
  // JetStream leader election during a NATS failover) must not take every node out of the load
  // balancer at once; it is retried every second until it succeeds.
  let epoch: string | undefined;
  let streamReady = !config.streamEnabled;
  let stopping = false;
  let streamRetry: NodeJS.Timeout | undefined;
  const refreshStream = async (): Promise<void> => {
    if (!config.streamEnabled || stopping || bus === undefined) return;
    clearTimeout(streamRetry);
    try {
      epoch = epochOf(await ensureStream(bus.nc, config));
      streamReady = true;
    } catch (err) {
      log.warn({ err: String(err) }, "cannot create or check stream SMS_EVENTS; retrying in 1 s");
      streamRetry = setTimeout(() => void refreshStream(), 1000);
      streamRetry.unref();
    }
  };

  const ready = () =>
    readiness({
      natsConnected: () => bus?.connected() ?? false,
      keysLoaded: () => keyStore?.loaded ?? false,
      streamReady: () => streamReady,
      draining: () => gateway.draining,
    });
  const feeds = new FeedRegistry({
    subscribe: (feed) => (fanout as Fanout).subscribe(feed),
    flush: () => (bus as BusConnection).nc.flush(),
  });
  const gateway: Gateway = new Gateway({
    config,
    log,
    metrics,
    keys: { lookup: (apiKey) => keyStore?.lookup(apiKey) },
    accepting: () => keyStore?.loaded ?? false,
    feeds,
    readiness: ready,
    epoch: () => epoch,
    ...(config.streamEnabled ? { resume: (ws, request) => (replayer as Replayer).resume(gateway, ws, request) } : {}),
  });

  let metricsServer: Server;
  try {
    metricsServer = await startMetricsServer(metrics.registry, config.metricsHost, config.metricsPort);
  } catch (err) {
    throw new Error(`cannot listen for metrics on ${config.metricsHost}:${config.metricsPort}: ${String(err)}`);
  }
  const port = await gateway.listen();
  const readyGauge = setInterval(() => metrics.ready.set(ready().ready ? 1 : 0), 1000);
  readyGauge.unref();
  log.info({ port, metricsPort: portOf(metricsServer) }, "listening; connecting to NATS before accepting clients");

  bus = await connectBus(config, log, `sms-ws-gateway:${process.pid}`);
  const nc = bus.nc;
  metrics.natsConnected.set(1);
  await refreshStream();
  const kv = await new Kvm(nc).create(config.keyBucket, { history: 1, replicas: config.streamReplicas });
  const keys = new KeyStore(kv, log);

  fanout = new Fanout(gateway.app, nc, metrics, log);
  let continuity: FeedContinuity | undefined;
  if (config.streamEnabled) {
    replayer = new Replayer(nc, config, metrics, log);
    const f = fanout;
    const c = new FeedContinuity(
      new StreamReader(nc),
      (feed, decoded) => f.publish(feed.topic, decoded),
      (feed) => gateway.closeTopic(feed.topic, "resync: events missed, resume"),
      config,
      metrics,
      log,
    );
    continuity = c;
    fanout.hooks = { continuity: c, replayer };
    fanout.onUnsubscribe = (feed) => c.forget(feed);
  }

  keys.on((e) => {
    if (e.type === "revoked") gateway.revoke(e.hash);
    if (e.type !== "watch_lost") {
      metrics.keys.set(keys.size);
      metrics.keysLastUpdate.set(keys.lastUpdate / 1000);
    } else {
      log.warn({ error: e.error }, "key-store watch lost; re-watching");
    }
  });
  const connection = bus;
  connection.onState((s) => {
    metrics.natsConnected.set(connection.connected() ? 1 : 0);
    if (s.type === "reconnected") {
      metrics.natsReconnects.inc();
      // The connection's subscriptions are back: fetch whatever the feeds missed meanwhile.
      void refreshStream().then(() => continuity?.repairAll("nats reconnected"));
    }
  });
  // The epoch in auth_ok must follow a stream that was deleted and re-created by an operator.
  const streamTimer = setInterval(() => void refreshStream(), 30_000);
  streamTimer.unref();

  await keys.start();
  keyStore = keys;
  metrics.ready.set(ready().ready ? 1 : 0);
  log.info({ port, metricsPort: portOf(metricsServer), epoch }, "gateway listening");

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      log.info({ reason, sockets: gateway.socketCount }, "draining");
      handle.onDrainStart?.();
      gateway.beginDrain();
      metrics.draining.set(1);
      metrics.ready.set(0);
      await delay(config.drainDelayMs);
      gateway.stopListening();
      await gateway.closeAllSpread(config.drainWindowMs);
      gateway.stopTimers();
      keys.stop();
      clearInterval(readyGauge);
      clearInterval(streamTimer);
      stopping = true;
      clearTimeout(streamRetry);
      await nc.drain().catch((err: unknown) => log.warn({ err }, "nats drain failed"));
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      log.info("drained");
    })();
    return shuttingDown;
  };

  const handle: GatewayNode = { port, metricsPort: portOf(metricsServer), gateway, metrics, bus: connection, keyStore: keys, shutdown };
  return handle;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

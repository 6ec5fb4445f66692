/**
 * A gateway node: wires config, NATS, the stream, the key store, the fan-out and the uWS server,
 * and owns the shutdown order.
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
  const bus = await connectBus(config, log, `sms-ws-gateway:${process.pid}`);
  metrics.natsConnected.set(1);

  // The stream gates readiness only until it has been checked once: a later failed check (a
  // JetStream leader election during a NATS failover) must not take every node out of the load
  // balancer at once; it is retried every second until it succeeds.
  let epoch: string | undefined;
  let streamReady = !config.streamEnabled;
  let stopping = false;
  let streamRetry: NodeJS.Timeout | undefined;
  const refreshStream = async (): Promise<void> => {
    if (!config.streamEnabled || stopping) return;
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
  await refreshStream();

  const kv = await new Kvm(bus.nc).create(config.keyBucket, { history: 1, replicas: config.streamReplicas });
  const keyStore = new KeyStore(kv, log);

  let gateway: Gateway | undefined;
  const ready = () =>
    readiness({
      natsConnected: bus.connected,
      keysLoaded: () => keyStore.loaded,
      streamReady: () => streamReady,
      draining: () => gateway?.draining ?? false,
    });

  // Placeholder transport until the uWS app exists (the fan-out needs the app to publish to).
  let fanout: Fanout | undefined;
  const feeds = new FeedRegistry({
    subscribe: (feed) => (fanout as Fanout).subscribe(feed),
    flush: () => bus.nc.flush(),
  });
  const replayer = config.streamEnabled ? new Replayer(bus.nc, config, metrics, log) : undefined;
  gateway = new Gateway({
    config,
    log,
    metrics,
    keys: keyStore,
    feeds,
    readiness: ready,
    epoch: () => epoch,
    ...(replayer === undefined ? {} : { resume: (ws, request) => replayer.resume(gateway as Gateway, ws, request) }),
  });
  fanout = new Fanout(gateway.app, bus.nc, metrics, log);
  let continuity: FeedContinuity | undefined;
  if (config.streamEnabled) {
    const f = fanout;
    continuity = new FeedContinuity(
      new StreamReader(bus.nc),
      (feed, decoded) => f.publish(feed.topic, decoded),
      (feed) => gateway?.closeTopic(feed.topic, "resync: events missed, resume"),
      config,
      metrics,
      log,
    );
    const c = continuity;
    fanout.hooks = { continuity, replayer };
    fanout.onUnsubscribe = (feed) => c.forget(feed);
  }

  keyStore.on((e) => {
    if (e.type === "revoked") gateway?.revoke(e.hash);
    if (e.type !== "watch_lost") {
      metrics.keys.set(keyStore.size);
      metrics.keysLastUpdate.set(keyStore.lastUpdate / 1000);
    } else {
      log.warn({ error: e.error }, "key-store watch lost; re-watching");
    }
  });
  bus.onState((s) => {
    metrics.natsConnected.set(bus.connected() ? 1 : 0);
    if (s.type === "reconnected") {
      metrics.natsReconnects.inc();
      // The connection's subscriptions are back: fetch whatever the feeds missed meanwhile.
      void refreshStream().then(() => continuity?.repairAll("nats reconnected"));
    }
  });
  const readyGauge = setInterval(() => metrics.ready.set(ready().ready ? 1 : 0), 1000);
  readyGauge.unref();
  // The epoch in auth_ok must follow a stream that was deleted and re-created by an operator.
  const streamTimer = setInterval(() => void refreshStream(), 30_000);
  streamTimer.unref();

  await keyStore.start();
  let metricsServer: Server;
  try {
    metricsServer = await startMetricsServer(metrics.registry, config.metricsHost, config.metricsPort);
  } catch (err) {
    throw new Error(`cannot listen for metrics on ${config.metricsHost}:${config.metricsPort}: ${String(err)}`);
  }
  const port = await gateway.listen();
  metrics.ready.set(ready().ready ? 1 : 0);
  log.info({ port, metricsPort: portOf(metricsServer), epoch }, "gateway listening");

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      const g = gateway as Gateway;
      log.info({ reason, sockets: g.socketCount }, "draining");
      handle.onDrainStart?.();
      g.beginDrain();
      metrics.draining.set(1);
      metrics.ready.set(0);
      await delay(config.drainDelayMs);
      g.stopListening();
      await g.closeAllSpread(config.drainWindowMs);
      g.stopTimers();
      keyStore.stop();
      clearInterval(readyGauge);
      clearInterval(streamTimer);
      stopping = true;
      clearTimeout(streamRetry);
      await bus.nc.drain().catch((err: unknown) => log.warn({ err }, "nats drain failed"));
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      log.info("drained");
    })();
    return shuttingDown;
  };

  const handle: GatewayNode = { port, metricsPort: portOf(metricsServer), gateway, metrics, bus, keyStore, shutdown };
  return handle;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

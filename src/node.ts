/**
 * A gateway node, composed: construct, wire, start, in that order (docs/architecture.md).
 *
 * Start-up, in two phases: the metrics and WebSocket ports open first (/healthz 200, /readyz 503
 * with reasons, upgrades 503 "starting"); then NATS (retried forever), the stream, the key store
 * and its first load; only then is the delivery line built and clients accepted.
 *
 * Shutdown (SIGTERM/SIGINT), step by step:
 *   1. draining: /readyz answers 503 and new upgrades are refused with 503 (the load balancer
 *      stops sending us clients; /healthz still answers so liveness does not kill us).
 *   2. after DRAIN_DELAY_MS: the listener closes.
 *   3. open sockets are closed with 1001, spread evenly over DRAIN_WINDOW_MS (no reconnect
 *      stampede onto the other nodes); SSE streams end the same way (`event: close`, 1001).
 *   4. the key-store watcher stops and the NATS connection drains.
 *   5. the metrics server closes and the process exits 0. If any step hangs, the process exits
 *      1 at SHUTDOWN_TIMEOUT_MS, still inside Kubernetes' grace period.
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Server } from "node:http";
import type { Logger } from "pino";
import { openBucket } from "./bus/buckets.js";
import { FeedRegistry } from "./bus/feed-registry.js";
import { FeedSubscriber } from "./bus/feed-subscriber.js";
import { connectBus, type BusConnection } from "./bus/nats-connection.js";
import { provision } from "./bus/provision.js";
import { checkStream } from "./bus/stream.js";
import { StreamWatch, type StreamEpochs } from "./bus/stream-watch.js";
import { Partitions } from "./bus/partitions.js";
import type { Config } from "./config/config.js";
import { KeyStore } from "./keys/key-store.js";
import { REJECTED_VALUE_REASONS, WATCHED_BUCKETS, type RejectedValueEvent } from "./keys/watched-bucket.js";
import { RevokedTokens } from "./tokens/revoked-tokens.js";
import { SignerStore } from "./tokens/signer-store.js";
import { recheckToken } from "./tokens/refresh-scope.js";
import { verifyConnectionToken } from "./tokens/verify-token.js";
import { portOf, startMetricsServer } from "./metrics/metrics-server.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import { FeedContinuity } from "./resume/feed-continuity.js";
import { Replayer } from "./resume/replayer.js";
import { StreamReader } from "./resume/stream-reader.js";
import { Admission } from "./server/admission.js";
import { AuditLog } from "./server/audit.js";
import { loadConsoleAssets, serveConsole } from "./server/console-route.js";
import { HttpServer } from "./server/http-server.js";
import { NodeHealth } from "./server/readiness.js";
import { ScopeTable } from "./server/scopes.js";
import { SocketLifecycle } from "./server/socket-lifecycle.js";
import { SocketRegistry } from "./server/sockets.js";
import { TopicPublisher } from "./server/topic-publisher.js";
import { Upkeep } from "./server/upkeep.js";
import { BUCKETS } from "./bus/buckets.js";
import { FLEET_COUNTS_INTERVAL_MS, FleetService } from "./fleet/fleet-service.js";
import { fleetKeys } from "./fleet/fleet-key.js";
import { createFleetMetrics } from "./fleet/fleet-metrics.js";
import { nodeIdentity } from "./fleet/identity.js";
import { FleetQuota } from "./fleet/quota.js";
import { TenantQuotas } from "./fleet/tenant-quotas.js";
import { DeliveryCounters } from "./server/delivery-counters.js";
import { FleetView } from "./server/fleet-view.js";
import type { Credentials } from "./protocol/authenticate.js";
import { EventStreams } from "./server/event-streams.js";
import { HistoryRoute } from "./server/history-route.js";
import { HttpAuth } from "./server/http-auth.js";
import { StreamRoute } from "./server/stream-route.js";

export interface GatewayNode {
  readonly port: number;
  readonly metricsPort: number;
  readonly metrics: Metrics;
  readonly bus: BusConnection;
  readonly keyStore: KeyStore;
  readonly signerStore: SignerStore;
  readonly sockets: SocketRegistry;
  /** Abuse-limit bookkeeping (diagnostics and tests). */
  readonly admission: Admission;
  /** The node's id in the fleet (its `sms-ws-gateway` micro-service id). */
  readonly fleetId: string;
  /** The fleet-wide quota ledger (what this node believes the other nodes hold; diagnostics and tests). */
  readonly fleetQuota: FleetQuota;
  /** Run the shutdown sequence; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

export interface NodeOptions {
  /** Runs at the start of the shutdown, before anything closes (e.g. stop a traffic simulation). */
  beforeDrain?: () => void;
}

/** On the direct path there is no stream, so no epoch. */
const NO_STREAM: StreamEpochs = { epoch: undefined, epochs: undefined, partitioned: false, epochOfTenant: () => undefined };
const BUCKET_RETRY_MS = 1000;

export async function startNode(config: Config, log: Logger, options: NodeOptions = {}): Promise<GatewayNode> {
  // Phase 1: the ports open; /readyz says why the node is not ready yet.
  const metrics = createMetrics({ tenants: config.metricsTenants });
  const health = new NodeHealth(config.streamEnabled);
  const http = new HttpServer(config, health, metrics, log);
  // Static files only, so served from the first phase on (README.md, "Developer console").
  if (config.consoleEnabled) serveConsole(http.app, loadConsoleAssets());
  const metricsServer = await listenForMetrics(metrics, config);
  const port = await http.listen();
  const readyGauge = setInterval(() => metrics.ready.set(health.readiness().ready ? 1 : 0), 1000);
  readyGauge.unref();
  log.info({ port, metricsPort: portOf(metricsServer) }, "listening; connecting to NATS before accepting clients");

  // Phase 2: NATS, the stream, the key store.
  const bus = await connectBus(config, log, `sms-ws-gateway:${process.pid}`);
  const nc = bus.nc;
  const natsState = (): void => {
    health.natsConnected = bus.connected();
    metrics.natsConnected.set(health.natsConnected ? 1 : 0);
  };
  natsState();
  bus.onState((s) => {
    natsState();
    if (s.type === "reconnected") metrics.natsReconnects.inc();
  });
  if (config.autoProvision) await provision(nc, config);
  // STREAM_PARTITIONS=K: K streams, one reader each (K=1: the single stream SMS_EVENTS).
  const partitions = new Partitions(config.streamPartitions);
  const stream = config.streamEnabled
    ? new StreamWatch(
        () => Promise.all(partitions.all.map((p) => checkStream(nc, p))),
        () => (health.streamChecked = true),
        log,
        partitions,
      )
    : undefined;
  await stream?.start();
  const keys = new KeyStore(await bucket(nc, config.keyBucket, log), log);
  const signers = new SignerStore(await bucket(nc, config.signerBucket, log), log);
  const revokedTokens = new RevokedTokens(await bucket(nc, config.revokedTokensBucket, log), log, { ttlMs: config.tokenMaxTtlS * 1000 });
  const tenantQuotas = new TenantQuotas(await bucket(nc, BUCKETS.tenants, log), log);
  // Before the first load: a junk value already in a bucket is counted too. Every series exists
  // from the start (at 0), so the alert sees the first one.
  for (const b of WATCHED_BUCKETS) for (const reason of REJECTED_VALUE_REASONS) metrics.bucketValuesRejected.inc({ bucket: b, reason }, 0);
  const countRejected = (e: RejectedValueEvent | { type: Exclude<string, "rejected"> }): void => {
    if ("reason" in e) metrics.bucketValuesRejected.inc({ bucket: e.bucket, reason: e.reason });
  };
  for (const store of [keys, signers, revokedTokens, tenantQuotas] as const) store.on(countRejected);
  await Promise.all([keys.start(), signers.start(), revokedTokens.start(), tenantQuotas.start()]);
  health.keysLoaded = true;
  metrics.keys.set(keys.size);
  metrics.keysLastUpdate.set(keys.lastUpdate / 1000);

  // Phase 3: the delivery line, bus to sockets, each stage given the next at construction:
  // FeedSubscriber -> FeedContinuity (durable path) -> TopicPublisher -> uWS topics.
  const deliveries = new DeliveryCounters();
  const sockets = new SocketRegistry(deliveries);
  const scopes = new ScopeTable();
  const admission = new Admission(config);
  const readers = stream === undefined ? undefined : { partitions, readers: partitions.all.map((p) => new StreamReader(nc, p)) };
  const reader = readers?.readers[0];
  const replayer = reader === undefined ? undefined : new Replayer(reader, config, metrics, log, readers);
  const streams = new EventStreams(stream ?? NO_STREAM, config, metrics, log);
  const publisher = new TopicPublisher(http.app, replayer, sockets, metrics, { counters: deliveries, streams });
  const continuity = reader === undefined ? undefined : new FeedContinuity(reader, publisher, config, metrics, log, readers);
  const feeds = new FeedRegistry(new FeedSubscriber(nc, continuity ?? publisher, metrics, log));
  const audit = new AuditLog(log);
  const tokenStores = {
    signer: (kid: string) => signers.signer(kid),
    isRevoked: (jti: string) => revokedTokens.isRevoked(jti),
    nowMs: Date.now,
    maxTtlS: config.tokenMaxTtlS,
  };
  const credentials: Credentials = {
    apiKey: (key) => keys.lookup(key),
    token: (token) => verifyConnectionToken(token, tokenStores),
    recheck: (verdict) => recheckToken(verdict, tokenStores),
  };
  const quota = new FleetQuota(tenantQuotas, { intervalMs: FLEET_COUNTS_INTERVAL_MS, perNodeMax: config.maxConnectionsPerTenant });
  const lifecycle = new SocketLifecycle({
    quota,
    config,
    log,
    audit,
    metrics,
    health,
    admission,
    credentials,
    sockets,
    scopes,
    feeds,
    stream: stream ?? NO_STREAM,
    resumer: replayer,
  });
  const upkeep = new Upkeep(http.app, config, sockets, scopes, admission, metrics, log, streams);
  const fleetTrust = fleetKeys(config.fleetSigningKey, config.fleetPublicKey);
  const fleetMetrics = createFleetMetrics(metrics.registry, fleetTrust.signingKey !== undefined);
  const fleet = new FleetService(nc, nodeIdentity(process.env), new FleetView(sockets, deliveries, admission, audit), quota, fleetTrust, fleetMetrics, log);

  signers.on((e) => {
    if (e.type === "revoked") {
      lifecycle.revokeSigner(e.kid);
      streams.revokeSigner(e.kid);
    }
    if (e.type === "watch_lost") log.warn({ error: e.error }, "signer watch lost; re-watching");
  });
  revokedTokens.on((e) => {
    if (e.type === "revoked") {
      lifecycle.revokeToken(e.jti);
      streams.revokeToken(e.jti);
    }
    if (e.type === "watch_lost") log.warn({ error: e.error }, "revoked-token watch lost; re-watching");
  });
  keys.on((e) => {
    if (e.type === "revoked") {
      // Revocation closes both transports: sockets and SSE streams.
      lifecycle.revokeKey(e.hash);
      streams.revokeKey(e.hash);
    }
    if (e.type === "watch_lost") {
      log.warn({ error: e.error }, "key-store watch lost; re-watching");
      return;
    }
    metrics.keys.set(keys.size);
    metrics.keysLastUpdate.set(keys.lastUpdate / 1000);
  });
  bus.onState((s) => {
    // The connection's subscriptions are back: fetch whatever the feeds missed meanwhile.
    if (s.type === "reconnected") void stream?.refresh().then(() => continuity?.repairAll("nats reconnected"));
  });

  // The HTTP events API (history, SSE) beside the sockets: same credentials, scopes, feeds,
  // admission and replays; SSE streams are revoked (above) and drained (Upkeep) with the sockets.
  const httpAuth = new HttpAuth({ credentials, admission, metrics, audit });
  const history = new HistoryRoute(config, httpAuth, reader, metrics, log, Date.now, readers);
  const streamRoute = new StreamRoute({ config, log, metrics, health, auth: httpAuth, admission, scopes, feeds, streams, resumer: replayer });

  // Start: clients from now on.
  upkeep.start();
  await fleet.start();
  http.accept(lifecycle, { history: (res, req) => history.handle(res, req), stream: (res, req) => streamRoute.handle(res, req) });
  metrics.ready.set(health.readiness().ready ? 1 : 0);
  log.info({ port, metricsPort: portOf(metricsServer), epoch: stream?.epoch, epochs: partitions.partitioned ? stream?.epochs : undefined }, "gateway listening");

  const shutdown = once(async (reason: string): Promise<void> => {
    log.info({ reason, sockets: sockets.count }, "draining");
    options.beforeDrain?.();
    health.draining = true;
    metrics.draining.set(1);
    metrics.ready.set(0);
    await delay(config.drainDelayMs);
    http.stopListening();
    await upkeep.closeAllSpread(config.drainWindowMs);
    upkeep.stop();
    keys.stop();
    signers.stop();
    revokedTokens.stop();
    tenantQuotas.stop();
    await fleet.stop();
    stream?.stop();
    clearInterval(readyGauge);
    await nc.drain().catch((err: unknown) => log.warn({ err }, "nats drain failed"));
    await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    log.info("drained");
  });

  return { port, metricsPort: portOf(metricsServer), metrics, bus, keyStore: keys, signerStore: signers, sockets, admission, fleetId: fleet.id, fleetQuota: quota, shutdown };
}

async function listenForMetrics(metrics: Metrics, config: Config): Promise<Server> {
  try {
    return await startMetricsServer(metrics.registry, config.metricsHost, config.metricsPort);
  } catch (err) {
    throw new Error(`cannot listen for metrics on ${config.metricsHost}:${config.metricsPort}: ${String(err)}`);
  }
}

/** A bucket `sms-ws provision` creates: waited for (the node is not ready meanwhile). */
async function bucket(nc: NatsConnection, name: string, log: Logger): Promise<KV> {
  for (;;) {
    try {
      return await openBucket(nc, name);
    } catch (err) {
      log.warn({ err: String(err), bucket: name }, "cannot open a bucket (run `sms-ws provision`); retrying in 1 s");
      await delay(BUCKET_RETRY_MS);
    }
  }
}

/** The first call runs `fn`; later calls get the same promise. */
function once<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  const state: { running?: Promise<void> } = {};
  return (...args) => (state.running ??= fn(...args));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

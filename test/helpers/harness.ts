/**
 * Real nats-server processes and real gateway nodes (in-process uWS) for integration tests.
 *
 * By default the server runs with exactly the production permissions (src/bus/permissions.ts):
 * the stream and buckets are provisioned by the admin user, nodes connect as the gateway user,
 * producers as the producer (durable) and direct-producer users, and keys are written by admin.
 * A permission the code needs but the matrix lacks fails here. `{ secure: false }` gives an open
 * server for suites that model a producer with every right (test/faults/hostile-producers).
 */
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { createBucket, openBucket } from "../../src/bus/buckets.js";
import { DEFAULT_ROLES, type RoleName } from "../../src/bus/permissions.js";
import { provision } from "../../src/bus/provision.js";
import { loadConfig } from "../../src/config/config.js";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { createKey, type CreateKeyInput } from "../../src/keys/key-admin.js";
import { startNode, type GatewayNode } from "../../src/node.js";
import { startSecureNats, type SecureNats } from "./secure-nats.js";

export interface TestNats extends EmbeddedNats {
  monitorPort: number;
  /** The permissioned server, or undefined for `{ secure: false }`. */
  secure: SecureNats | undefined;
  /** NATS_URL and, on a permissioned server, the gateway user's credentials: a node's env. */
  nodeEnv(): Record<string, string>;
  /** NATS_URL and, on a permissioned server, a role's credentials: the env of `sms-ws` as that role. */
  cliEnv(role: RoleName): Record<string, string>;
  /** Subscriptions the server holds, as reported by its monitoring endpoint. */
  subscriptions(): Promise<string[]>;
}

/** `partitions`: a server with STREAM_PARTITIONS=K's mapping, provisioned with K streams (nodes need the same env). */
export async function startTestNats(options: { jetstream?: boolean; secure?: boolean; partitions?: number } = {}): Promise<TestNats> {
  const monitorPort = await freePort();
  const monitor = ["-m", String(monitorPort)];
  const partitions = options.partitions ?? 1;
  const secure = options.secure === false ? undefined : await startSecureNats({ roles: [...DEFAULT_ROLES, "directProducer"], args: monitor, partitions });
  const nats = secure ?? (await startNatsServer({ args: monitor, jetstream: options.jetstream ?? true }));
  if (secure !== undefined) {
    const admin = await secure.connect("admin");
    await provision(admin, loadConfig(partitions === 1 ? {} : { STREAM_PARTITIONS: String(partitions) }));
    await admin.close();
  }
  return {
    ...nats,
    monitorPort,
    secure,
    nodeEnv(): Record<string, string> {
      const gateway = secure?.credentials.gateway;
      if (gateway === undefined) return { NATS_URL: nats.url, AUTO_PROVISION: "true" };
      return { NATS_URL: nats.url, NATS_USER: gateway.user, NATS_PASSWORD: gateway.pass };
    },
    cliEnv(role: RoleName): Record<string, string> {
      const user = secure?.credentials[role];
      return { NATS_URL: nats.url, ...(user === undefined ? {} : { NATS_USER: user.user, NATS_PASSWORD: user.pass }) };
    },
    async subscriptions() {
      const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1&limit=1000`);
      const body = (await res.json()) as { connections: { name?: string; subscriptions_list?: string[] }[] };
      return body.connections
        .filter((c) => (c.name ?? "").startsWith("sms-ws-gateway"))
        .flatMap((c) => c.subscriptions_list ?? []);
    },
  };
}

/** Nodes started by this test file: a new key is usable once all of them have loaded it. */
const liveNodes = new Map<GatewayNode, string>();

async function knownEverywhere(hash: string, natsUrl: string): Promise<void> {
  const nodes = [...liveNodes].filter(([, url]) => url === natsUrl).map(([node]) => node);
  await Promise.all(nodes.map((node) => storeReaches(node.keyStore, () => node.keyStore.has(hash))));
}

/** Resolves once `condition` holds: at once, or after one of the store's events. */
export function storeReaches(store: { on(listener: () => void): () => void }, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) return resolve();
    const off = store.on(() => {
      if (condition()) {
        off();
        resolve();
      }
    });
  });
}

export interface TestNode {
  node: GatewayNode;
  url: string;
  http: string;
  stop(): Promise<void>;
}

/** A node on `nats`: a TestNats (permissioned unless it says otherwise) or any server by URL. */
export async function startTestNode(nats: { url: string; nodeEnv?: () => Record<string, string> }, env: Record<string, string> = {}): Promise<TestNode> {
  const config = loadConfig({
    ...(nats.nodeEnv?.() ?? { NATS_URL: nats.url, AUTO_PROVISION: "true" }),
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    DRAIN_DELAY_MS: "0",
    DRAIN_WINDOW_MS: "0",
    SHUTDOWN_TIMEOUT_MS: "5000",
    // Every test client comes from 127.0.0.1: abuse limits are tested on their own.
    MAX_UNAUTHENTICATED_PER_IP: "100000",
    AUTH_FAILURES_PER_IP_PER_MIN: "0",
    ...env,
  });
  const node = await startNode(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }));
  liveNodes.set(node, nats.url);
  return {
    node,
    url: `ws://127.0.0.1:${node.port}/ws`,
    http: `http://127.0.0.1:${node.port}`,
    stop: () => {
      liveNodes.delete(node);
      return node.shutdown("test");
    },
  };
}

export interface Producer {
  /** The producer user: durable path (JetStream publish to in.sms.>). */
  nc: NatsConnection;
  /** The direct-producer user: core NATS publish to sms.<t>.<a>.<kind>. */
  direct: NatsConnection;
  /** The admin user: key writes, stream maintenance. */
  admin: NatsConnection;
  /** The API-key bucket, written by the admin user. */
  kv: KV;
  key(input: CreateKeyInput): Promise<string>;
  close(): Promise<void>;
}

export async function startProducer(nats: { url: string; secure?: SecureNats | undefined }): Promise<Producer> {
  const secure = nats.secure;
  const open = (): Promise<NatsConnection> => connect({ servers: nats.url, name: "test-producer" });
  const nc = secure === undefined ? await open() : await secure.connect("producer", { reconnect: true });
  const direct = secure === undefined ? nc : await secure.connect("directProducer", { reconnect: true });
  const admin = secure === undefined ? nc : await secure.connect("admin", { reconnect: true });
  // An open server may have no node yet to provision it: create the bucket (idempotent).
  const kv = secure === undefined ? await createBucket(admin, "sms_api_keys", { replicas: 1 }) : await openBucket(admin, "sms_api_keys");
  return {
    nc,
    direct,
    admin,
    kv,
    key: async (input) => {
      const created = await createKey(kv, input);
      await knownEverywhere(created.keyHash, nats.url);
      return created.apiKey;
    },
    close: async () => {
      for (const c of new Set([nc, direct, admin])) await c.close();
    },
  };
}

/** The value of a metric (summed over label sets matching `labels`) from a node's registry. */
export async function metricValue(node: GatewayNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

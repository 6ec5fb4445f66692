/** Real nats-server processes and real gateway nodes (in-process uWS) for integration tests. */
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { loadConfig } from "../../src/config/config.js";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { createKey, type CreateKeyInput } from "../../src/keys/key-admin.js";
import { startNode, type GatewayNode } from "../../src/node.js";

export interface TestNats extends EmbeddedNats {
  monitorPort: number;
  /** Subscriptions the server holds, as reported by its monitoring endpoint. */
  subscriptions(): Promise<string[]>;
}

export async function startTestNats(options: { jetstream?: boolean } = {}): Promise<TestNats> {
  const monitorPort = await freePort();
  const nats = await startNatsServer({ args: ["-m", String(monitorPort)], jetstream: options.jetstream ?? true });
  return {
    ...nats,
    monitorPort,
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
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          if (node.keyStore.has(hash)) return resolve();
          const off = node.keyStore.on(() => {
            if (node.keyStore.has(hash)) {
              off();
              resolve();
            }
          });
        }),
    ),
  );
}

export interface TestNode {
  node: GatewayNode;
  url: string;
  http: string;
  stop(): Promise<void>;
}

export async function startTestNode(nats: { url: string }, env: Record<string, string> = {}): Promise<TestNode> {
  const config = loadConfig({
    NATS_URL: nats.url,
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "0",
    METRICS_HOST: "127.0.0.1",
    // Tests provision on the fly; production runs `sms-ws provision` (docs/security.md).
    AUTO_PROVISION: "true",
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
  nc: NatsConnection;
  kv: KV;
  key(input: CreateKeyInput): Promise<string>;
  close(): Promise<void>;
}

export async function startProducer(nats: { url: string }): Promise<Producer> {
  const nc = await connect({ servers: nats.url, name: "test-producer" });
  const kv = await new Kvm(nc).create("sms_api_keys", { history: 1 });
  return {
    nc,
    kv,
    key: async (input) => {
      const created = await createKey(kv, input);
      await knownEverywhere(created.keyHash, nats.url);
      return created.apiKey;
    },
    close: () => nc.close(),
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

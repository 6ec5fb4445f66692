/**
 * A 3-server NATS cluster with JetStream (loopback, free ports, own store dirs), each server
 * running the production accounts block rendered from src/bus/permissions.ts (as
 * secure-nats.ts does for one server), provisioned by the admin user with 3 replicas.
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { useLegacyConsumerCreate } from "../../src/bus/nats-connection.js";
import { DEFAULT_ROLES, PERMISSIONS, type RoleName } from "../../src/bus/permissions.js";
import { provision } from "../../src/bus/provision.js";
import { loadConfig } from "../../src/config/config.js";
import { freePort, startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { pollUntil } from "./poll.js";

export interface SecureCluster {
  /** All three client URLs, comma-separated (NATS_URL). */
  url: string;
  servers: EmbeddedNats[];
  /** A node's environment: NATS_URL, the gateway user, 3 replicas. */
  nodeEnv(): Record<string, string>;
  credentials(role: RoleName): { user: string; pass: string };
  connect(role: RoleName, extra?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startSecureCluster(size = 3): Promise<SecureCluster> {
  const roles: RoleName[] = [...DEFAULT_ROLES, "directProducer"];
  const passwords: Partial<Record<RoleName, string>> = {};
  for (const role of roles) passwords[role] = randomBytes(24).toString("hex");
  const auth = renderAuthorization({ roles, passwords });
  const dir = mkdtempSync(join(tmpdir(), "smsws-secure-cluster-"));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(",");
  const servers = await Promise.all(
    ports.map((p, i) => {
      const file = join(dir, `n${i + 1}.conf`);
      writeFileSync(file, auth, { mode: 0o600 });
      return startNatsServer({
        port: p.client,
        storeDir: join(dir, `n${i + 1}`),
        args: ["-c", file, "-n", `n${i + 1}`, "-m", String(p.monitor), "--cluster", `nats://127.0.0.1:${p.cluster}`, "--routes", routes, "--cluster_name", "fleet"],
      });
    }),
  );
  const url = servers.map((s) => s.url).join(",");
  const options = (role: RoleName, extra: Partial<ConnectionOptions> = {}): ConnectionOptions => ({
    servers: servers.map((s) => s.url),
    user: PERMISSIONS[role].user,
    pass: passwords[role] as string,
    inboxPrefix: PERMISSIONS[role].inboxPrefix,
    name: `test-${role}`,
    ...extra,
  });
  // JetStream needs a meta leader before provisioning can create replicated streams.
  const admin = await connect(options("admin", { maxReconnectAttempts: -1 }));
  await pollUntil(
    async () => {
      try {
        await provision(admin, loadConfig({ STREAM_REPLICAS: "3" }));
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    "the cluster provisioned (JetStream meta leader elected)",
    250,
  );
  await admin.close();
  return {
    url,
    servers,
    nodeEnv: () => ({ NATS_URL: url, NATS_USER: PERMISSIONS.gateway.user, NATS_PASSWORD: passwords.gateway as string, STREAM_REPLICAS: "3" }),
    credentials: (role) => ({ user: PERMISSIONS[role].user, pass: passwords[role] as string }),
    connect: async (role, extra) => {
      const nc = await connect(options(role, extra));
      return role === "gateway" ? useLegacyConsumerCreate(nc) : nc;
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

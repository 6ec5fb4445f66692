/**
 * `sms-ws dev` (what `npm start` runs): a node that needs nothing installed but nats-server.
 * Without NATS_URL it starts a local nats-server with JetStream in a temporary directory, creates
 * one app key and one admin key, prints them, optionally simulates traffic, and serves.
 */
import type { Logger } from "pino";
import { loadConfig, type Config } from "../config/config.js";
import { startNatsServer, type EmbeddedNats } from "../dev/embedded-nats.js";
import { startSimulation } from "../dev/simulate.js";
import { redactServers } from "../log.js";
import { createKey } from "../keys/key-admin.js";
import type { ParsedArgs } from "./args.js";
import { openBucket } from "../bus/buckets.js";
import { serve } from "./serve-command.js";

const DEV_TENANT = "tenant_demo";
const DEV_APP = "app_demo";

export async function devCommand(env: NodeJS.ProcessEnv, args: ParsedArgs, log: Logger, out: (s: string) => void): Promise<void> {
  let nats: EmbeddedNats | undefined;
  const devEnv: Record<string, string | undefined> = {
    // A developer's Ctrl-C should not wait 25 s: short drain unless asked otherwise.
    DRAIN_DELAY_MS: "0",
    // A development node provisions its own stream and buckets (production: `sms-ws provision`).
    AUTO_PROVISION: "true",
    DRAIN_WINDOW_MS: "1000",
    SHUTDOWN_TIMEOUT_MS: "10000",
    ...env,
  };
  if (!env.NATS_URL) {
    nats = await startNatsServer();
    devEnv.NATS_URL = nats.url;
    log.info({ url: nats.url }, "started a local nats-server with JetStream");
  }
  let config: Config;
  try {
    config = loadConfig(devEnv);
  } catch (err) {
    await nats?.stop();
    throw err;
  }
  let stopSimulation = (): void => {};
  const node = await serve(config, log, {
    beforeDrain: () => stopSimulation(),
    afterStop: async () => {
      await nats?.stop();
    },
  });
  const kv = await openBucket(node.bus.nc, config.keyBucket);
  const app = await createKey(kv, { role: "app", tenantId: DEV_TENANT, appId: DEV_APP, label: "dev app key" });
  const admin = await createKey(kv, { role: "admin", label: "dev admin key" });
  out("");
  out(`sms-ws-gateway is listening: ws://localhost:${node.port}/ws   metrics: http://localhost:${node.metricsPort}/metrics`);
  out(`NATS: ${redactServers(config.natsServers).join(",")}`);
  out(`app key   (tenant ${DEV_TENANT}, app ${DEV_APP}): ${app.apiKey}`);
  out(`admin key (every tenant and app):                 ${admin.apiKey}`);
  out(`try:  npx wscat -c ws://localhost:${node.port}/ws   then send {"type":"auth","apiKey":"${app.apiKey}"}`);
  if (args.flags.has("simulate")) {
    stopSimulation = startSimulation(node.bus.nc, { tenantId: DEV_TENANT, appId: DEV_APP }, log, {
      direct: !config.streamEnabled,
    });
    out("simulating: a status change or inbound SMS every ~2 s");
  }
  out("Ctrl-C stops the node" + (nats ? " and the local nats-server" : "") + ".");
  out("");
}

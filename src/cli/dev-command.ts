/**
 * `sms-ws dev` (what `npm start` runs): a node that needs nothing installed but nats-server.
 * Without NATS_URL it starts a local nats-server with JetStream in a temporary directory, creates
 * the key, signer and revoked-token buckets, one app key, one admin key, a token signer and a
 * one-hour connection token, prints them (and links to the developer console at /console with
 * the token or the app key in the URL fragment), optionally simulates traffic, and serves.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { loadConfig, type Config } from "../config/config.js";
import { startNatsServer, type EmbeddedNats } from "../dev/embedded-nats.js";
import { startSimulation } from "../dev/simulate.js";
import { openBucket } from "../bus/buckets.js";
import { redactServers } from "../log.js";
import { createKey } from "../keys/key-admin.js";
import { createConnectionToken } from "../tokens/mint-token.js";
import { createSigner } from "../tokens/signer-admin.js";
import type { ParsedArgs } from "./args.js";
import { serve } from "./serve-command.js";

const DEV_TENANT = "tenant_demo";
const DEV_APP = "app_demo";
const DEV_TOKEN_TTL_S = 3600;

export async function devCommand(env: NodeJS.ProcessEnv, args: ParsedArgs, log: Logger, out: (s: string) => void): Promise<void> {
  let nats: EmbeddedNats | undefined;
  const devEnv: Record<string, string | undefined> = {
    // A developer's Ctrl-C should not wait 25 s: short drain unless asked otherwise.
    DRAIN_DELAY_MS: "0",
    // A development node provisions its own stream and buckets (production: `sms-ws provision`).
    AUTO_PROVISION: "true",
    // The developer console at /console (README.md, "Developer console").
    CONSOLE_ENABLED: "true",
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
  // The dev signer's private key, so `sms-ws token --signer-key` works too; gone on exit.
  const keyDir = mkdtempSync(join(tmpdir(), "smsws-dev-signer-"));
  const node = await serve(config, log, {
    beforeDrain: () => stopSimulation(),
    afterStop: async () => {
      rmSync(keyDir, { recursive: true, force: true });
      await nats?.stop();
    },
  });
  // The node provisioned the stream and the buckets (AUTO_PROVISION): open them.
  const nc = node.bus.nc;
  const kv = await openBucket(nc, config.keyBucket);
  const signerKv = await openBucket(nc, config.signerBucket);
  const app = await createKey(kv, { role: "app", tenantId: DEV_TENANT, appId: DEV_APP, label: "dev app key" });
  const admin = await createKey(kv, { role: "admin", label: "dev admin key" });
  const signer = await createSigner(signerKv, { tenantId: DEV_TENANT, appId: DEV_APP, label: "dev signer" });
  const signerKeyFile = join(keyDir, "signer.pem");
  writeFileSync(signerKeyFile, signer.privateKeyPem, { mode: 0o600 });
  const token = createConnectionToken({
    privateKey: signer.privateKeyPem,
    kid: signer.kid,
    tenantId: DEV_TENANT,
    appId: DEV_APP,
    ttlSeconds: Math.min(DEV_TOKEN_TTL_S, config.tokenMaxTtlS),
    sub: "dev-user",
  });
  out("");
  out(`sms-ws-gateway is listening: ws://localhost:${node.port}/ws   metrics: http://localhost:${node.metricsPort}/metrics`);
  out(`NATS: ${redactServers(config.natsServers).join(",")}`);
  out(`app key   (tenant ${DEV_TENANT}, app ${DEV_APP}): ${app.apiKey}`);
  out(`admin key (every tenant and app):                 ${admin.apiKey}`);
  out(`token     (tenant ${DEV_TENANT}, app ${DEV_APP}, 1 h, signer ${signer.kid}):`);
  out(`  ${token}`);
  out(`  pages get tokens, never keys; mint more: sms-ws token --signer-key ${signerKeyFile} --kid ${signer.kid} --tenant ${DEV_TENANT} --app ${DEV_APP} --ttl 15m`);
  if (config.consoleEnabled) {
    // Credentials go in the fragment: browsers never send it, so no server or proxy logs it.
    // The token link is the one to prefer (what a real page holds); never the admin key.
    const consoleUrl = `http://localhost:${node.port}/console`;
    out(`console:  ${consoleUrl}#token=${token}`);
    out(`          ${consoleUrl}#key=${app.apiKey}   (app key; the token link expires in 1 h)`);
  }
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

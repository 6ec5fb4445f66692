#!/usr/bin/env node
/**
 * A real fleet for the integration tests of the SDKs in other languages (Python, Go): a
 * nats-server (JetStream, loopback, random ports) with the production authorization block
 * rendered from src/bus/permissions.ts, provisioned by the admin user, one API key and one token
 * signer, and N real `sms-ws serve` processes. Run after `npm run build`:
 *
 *   node clients/testkit/launch-fleet.mjs [--nodes 2] [--tenant T] [--app A] [--partitions K]
 *
 * --partitions K: STREAM_PARTITIONS=K for the server's mapping, the provisioned streams and the
 * nodes (docs/partitioning.md); default 1.
 * stdout, first line: JSON {natsUrl, nodes: [{url, http, pid}], tenantId, appId, apiKey,
 *   adminKey, partitions, signer: {kid}, roles: {producer|directProducer|admin: {user, pass, inboxPrefix}}}.
 * stdin: one JSON command per line, each answered by one JSON line {id, ok, ...} on stdout:
 *   {"id":1,"cmd":"token","ttl":60}                     -> {token}       (tenant/app of the fleet; optional tenantId, appId)
 *   {"id":2,"cmd":"signal","node":0,"signal":"SIGKILL"} -> {code, signal} once the process exited
 *   {"id":3,"cmd":"kick","tenant":"T"}                  -> {kicked}
 * Closing stdin, SIGTERM or SIGINT stops every process and removes the temporary directory.
 * NATS_SERVER_BIN picks the nats-server binary (src/dev/embedded-nats.ts). Nothing is logged on
 * stdout but the JSON lines; node logs go to stderr only with TESTKIT_NODE_LOGS=1.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";

const dist = (path) => new URL(`../../dist/${path}`, import.meta.url).href;
const { openBucket } = await import(dist("bus/buckets.js"));
const { MAX_PARTITIONS } = await import(dist("bus/partitions.js"));
const { renderAuthorization } = await import(dist("bus/nats-accounts.js"));
const { DEFAULT_ROLES, PERMISSIONS } = await import(dist("bus/permissions.js"));
const { provision } = await import(dist("bus/provision.js"));
const { loadConfig } = await import(dist("config/config.js"));
const { freePort, startNatsServer } = await import(dist("dev/embedded-nats.js"));
const { createKey } = await import(dist("keys/key-admin.js"));
const { createSigner } = await import(dist("tokens/signer-admin.js"));
const { createConnectionToken } = await import(dist("tokens/mint-token.js"));
const { kickConnections } = await import(dist("cli/fleet-command.js"));
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string", default: "2" },
    tenant: { type: "string", default: "Tkit" },
    app: { type: "string", default: "Akit" },
    partitions: { type: "string", default: "1" },
  },
});
const nodeCount = Number(args.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 8) throw new Error("--nodes must be 1 to 8");
const partitions = Number(args.partitions);
if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) throw new Error(`--partitions must be 1 to ${MAX_PARTITIONS}`);
const partitionEnv = partitions === 1 ? {} : { STREAM_PARTITIONS: String(partitions) };

const dir = mkdtempSync(join(tmpdir(), "smsws-testkit-"));
const children = [];
let nats;
let admin;
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await admin?.close().catch(() => {});
  await nats?.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
process.on("SIGTERM", () => void stopAll(0));
process.on("SIGINT", () => void stopAll(0));

async function ready(http, child) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${http}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`sms-ws serve exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("sms-ws serve did not become ready within 20 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  const roles = [...DEFAULT_ROLES, "directProducer"];
  const passwords = Object.fromEntries(roles.map((role) => [role, randomBytes(24).toString("hex")]));
  const file = join(dir, "nats.conf");
  writeFileSync(file, renderAuthorization({ roles, passwords, partitions }), { mode: 0o600 });
  nats = await startNatsServer({ args: ["-c", file], storeDir: join(dir, "jetstream") });
  const role = (name) => ({ user: PERMISSIONS[name].user, pass: passwords[name], inboxPrefix: PERMISSIONS[name].inboxPrefix });
  const adminRole = role("admin");
  admin = await connect({ servers: nats.url, user: adminRole.user, pass: adminRole.pass, inboxPrefix: adminRole.inboxPrefix, name: "testkit-admin" });
  await provision(admin, loadConfig(partitionEnv));
  const keys = await openBucket(admin, "sms_api_keys");
  const key = await createKey(keys, { role: "app", tenantId: args.tenant, appId: args.app });
  const adminKey = await createKey(keys, { role: "admin" });
  const signer = await createSigner(await openBucket(admin, "sms_token_signers"), { tenantId: args.tenant });

  const nodes = [];
  for (let i = 0; i < nodeCount; i++) {
    const port = await freePort();
    const gateway = role("gateway");
    const child = spawn(process.execPath, [CLI, "serve"], {
      env: {
        ...process.env,
        NATS_URL: nats.url,
        NATS_USER: gateway.user,
        NATS_PASSWORD: gateway.pass,
        AUTO_PROVISION: "false",
        HOST: "127.0.0.1",
        PORT: String(port),
        METRICS_PORT: "0",
        LOG_LEVEL: "info",
        DRAIN_DELAY_MS: "0",
        DRAIN_WINDOW_MS: "2000",
        SHUTDOWN_TIMEOUT_MS: "5000",
        MAX_UNAUTHENTICATED_PER_IP: "100000",
        AUTH_FAILURES_PER_IP_PER_MIN: "0",
        ...partitionEnv,
      },
      stdio: ["ignore", process.env.TESTKIT_NODE_LOGS === "1" ? process.stderr : "ignore", process.stderr],
    });
    children.push(child);
    const http = `http://127.0.0.1:${port}`;
    await ready(http, child);
    nodes.push({ url: `ws://127.0.0.1:${port}/ws`, http, pid: child.pid });
  }
  const answer = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  answer({
    natsUrl: nats.url,
    nodes,
    tenantId: args.tenant,
    appId: args.app,
    apiKey: key.apiKey,
    adminKey: adminKey.apiKey,
    partitions,
    signer: { kid: signer.kid },
    roles: { producer: role("producer"), directProducer: role("directProducer"), admin: adminRole },
  });

  const commands = {
    token: (c) => ({
      token: createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId: c.tenantId ?? args.tenant, appId: c.appId ?? args.app, ttlSeconds: c.ttl ?? 60 }),
    }),
    signal: async (c) => {
      const child = children[c.node];
      if (child === undefined) throw new Error(`no node ${c.node}`);
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
      const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      child.kill(c.signal === "SIGTERM" ? "SIGTERM" : "SIGKILL");
      return exited;
    },
    kick: async (c) => ({ kicked: (await kickConnections(admin, { tenant: c.tenant ?? args.tenant })).kicked }),
  };
  const lines = createInterface({ input: process.stdin });
  lines.on("line", async (line) => {
    let id = null;
    try {
      const c = JSON.parse(line);
      id = c.id ?? null;
      const run = commands[c.cmd];
      if (run === undefined) throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
      answer({ id, ok: true, ...(await run(c)) });
    } catch (err) {
      answer({ id, ok: false, error: String(err?.message ?? err) });
    }
  });
  lines.on("close", () => void stopAll(0));
}

main().catch((err) => {
  process.stderr.write(`launch-fleet: ${err?.stack ?? err}\n`);
  void stopAll(1);
});

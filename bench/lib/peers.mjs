// The servers under test. Each peer: setup(ctx) starts its processes and returns a handle with
//   serverPids  processes whose CPU (user+sys, with descendants) is counted as "server CPU"
//   cpuCounted  those processes, in words, for the report
//   clients(kind, scopes)  loadgen options for sockets of `kind` ("app" | "admin")
//   publish(plan)          sends one paced plan of events, resolves {sent, secs}
//   publisherPids          processes that publish (measured apart, never counted as server)
//   teardown()
// A peer that cannot run throws from setup(); run.mjs records the reason and goes on.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_CHANNEL, API_ADMIN_CHANNEL, connectionToken, ensureCentrifugo, scopeChannel, startCentrifugo } from './centrifugo.mjs';
import { startNats } from './nats.mjs';
import { freePort, httpRequest, httpStatus, sleep, start, stop, tcpOpen, waitFor } from './proc.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = join(benchDir, '..');
const peersSrc = join(benchDir, 'peers');
const peersDir = join(benchDir, '.peers');

export const AUTH_TEMPLATE = '{"type":"auth","apiKey":"%KEY%"}';
/** The gateway's auth with a per-socket tail (the keys file's KEY<TAB>TAIL lines), e.g. a filter. */
export const AUTH_TAIL_TEMPLATE = '{"type":"auth","apiKey":"%KEY%"%TAIL%}';

/** Copies bench/peers/<name> into bench/.peers/<name> and runs npm install there when it has dependencies. */
export function installPeer(name, { allowNpm = true, projectFallback = false } = {}) {
  const src = join(peersSrc, name);
  const dst = join(peersDir, name);
  mkdirSync(dst, { recursive: true });
  cpSync(src, dst, { recursive: true });
  cpSync(join(benchDir, 'lib', 'pace.mjs'), join(dst, 'pace.mjs'));
  const pkg = JSON.parse(readFileSync(join(dst, 'package.json'), 'utf8'));
  const stamp = join(dst, 'node_modules', '.bench-installed');
  const want = JSON.stringify(pkg);
  if (pkg.dependencies && Object.keys(pkg.dependencies).length) {
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return dst;
    // quick mode: a peer whose packages the project also has (ws, nats, msgpackr) resolves them
    // from the repo's node_modules (Node walks up from bench/.peers/<name>) instead of installing
    if (!allowNpm && projectFallback) return dst;
    if (!allowNpm) throw new Error(`not installed in bench/.peers/${name} (the full run installs it: node bench/run.mjs)`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: dst,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 300000,
    });
    writeFileSync(stamp, want);
  }
  return dst;
}

function sha256(s) {
  return createHash('sha256').update(s).digest('hex');
}

/** One API key per scope plus one admin key; the same plaintexts drive every peer that takes keys. */
export function makeKeys(scopes) {
  const app = scopes.map(([tenantId, appId]) => ({ apiKey: randomBytes(32).toString('hex'), tenantId, appId }));
  const admin = { apiKey: randomBytes(32).toString('hex') };
  return { app, admin };
}

function keyMapFile(dir, keys) {
  const map = {};
  for (const k of keys.app) map[sha256(k.apiKey)] = { role: 'app', tenantId: k.tenantId, appId: k.appId };
  map[sha256(keys.admin.apiKey)] = { role: 'admin' };
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify(map));
  return file;
}

function linesFile(dir, name, lines) {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Scope index k -> the line (key, subject or channel) a socket of that scope sends. */
function scopeIndex(keys) {
  const m = new Map();
  keys.app.forEach((k, i) => m.set(`${k.tenantId}/${k.appId}`, i));
  return m;
}

/**
 * Loadgen options for `sockets` gateway sockets, socket i in scope i % scopes.length, each with
 * its own auth tail tailOf(i) ('' for none): one keys-file line per socket.
 */
function tailClients(ctx, keys) {
  const idx = scopeIndex(keys);
  return (scopes, sockets, tailOf) => ({
    auth: AUTH_TAIL_TEMPLATE,
    keysFile: linesFile(
      ctx.dir,
      `keys-tail-${scopes.length}-${sockets}.txt`,
      Array.from({ length: sockets }, (_, i) => {
        const [t, a] = scopes[i % scopes.length];
        const tail = tailOf(i);
        return tail ? `${keys.app[idx.get(`${t}/${a}`)].apiKey}\t${tail}` : keys.app[idx.get(`${t}/${a}`)].apiKey;
      }),
    ),
    ready: 'auth_ok',
    fail: 'auth_error',
  });
}

function apiKeyClients(ctx, keys) {
  const idx = scopeIndex(keys);
  return (kind, scopes) => ({
    auth: AUTH_TEMPLATE,
    keysFile: linesFile(
      ctx.dir,
      `keys-${kind}-${scopes.length}.txt`,
      kind === 'admin' ? [keys.admin.apiKey] : scopes.map(([t, a]) => keys.app[idx.get(`${t}/${a}`)].apiKey),
    ),
    ready: 'auth_ok',
    fail: 'auth_error',
  });
}

/** A long-lived publisher child process (lib/publisher.mjs), one plan at a time. */
async function startPublisher(cfg) {
  const child = start(process.execPath, [join(benchDir, 'lib', 'publisher.mjs'), JSON.stringify(cfg)], {
    stdin: 'pipe',
    keepStdout: true,
    cwd: repoDir,
  });
  const rl = createInterface({ input: child.stdout });
  const pending = [];
  rl.on('line', (l) => pending.shift()?.(l));
  return {
    child,
    publish(plan) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`publisher: no answer: ${child.tail.slice(-800)}`)), 120000);
        pending.push((l) => {
          clearTimeout(t);
          const r = JSON.parse(l);
          if (r.error) reject(new Error(`publisher: ${r.error}`));
          else resolve(r);
        });
        child.stdin.write(`${JSON.stringify(plan)}\n`);
      });
    },
    stop: () => stop(child, 500),
  };
}

// ---------------------------------------------------------------------------------------------

const CENTRIFUGO_NA = {
  filtered: "filtered: n/a (Centrifugo's v6 filters match publication tags, a different model from the gateway's status/message filters; not driven by this bench)",
  sse: "sse: n/a (the scenario drives the gateway's own GET /v1/events/stream; Centrifugo's SSE speaks its own protocol)",
};

export const PEERS = {
  gateway: {
    describe: 'this project: uWebSockets.js node fed by NATS (direct path: core NATS publish to sms.<t>.<a>.status)',
    setup: (ctx) => setupGateway(ctx, ctx.durable),
    filters: true,
    sse: true,
  },
  'gateway-before': {
    describe: 'this project at another commit (BENCH_BASELINE_DIR: a built checkout of it), same path as gateway: a change measured against its parent in one run',
    setup: (ctx) => {
      const dir = process.env.BENCH_BASELINE_DIR;
      if (!dir) throw new Error('set BENCH_BASELINE_DIR to a built checkout (git worktree add DIR REF && cd DIR && npm run build)');
      return setupGateway(ctx, ctx.durable, dir);
    },
  },
  'gateway-tokens': {
    describe: 'this project, every app socket authenticating with a connection token (Ed25519 JWT, one per scope) instead of an API key: the cost of token auth',
    setup: (ctx) => setupGateway(ctx, ctx.durable, repoDir, { tokens: true }),
  },
  'gateway-durable': {
    describe: 'this project on its durable path: JetStream publish with ack to in.sms.<t>.<a>.status, republished by SMS_EVENTS',
    setup: (ctx) => setupGateway(ctx, true),
    filters: true,
    sse: true,
  },

  'gateway-partitioned': {
    describe: 'this project on its durable path with STREAM_PARTITIONS=K (--partitions K, default 4): the nats-server subject mapping spreads tenants over SMS_EVENTS_0..K-1 (docs/partitioning.md)',
    setup: (ctx) => setupGateway(ctx, true, repoDir, { partitions: ctx.partitions ?? 4 }),
    filters: true,
    sse: true,
  },

  'uws-ceiling': {
    describe: 'bare uWebSockets.js, events generated in-process as pre-encoded JSON, no NATS (the stack ceiling)',
    async setup(ctx) {
      const dir = installPeer('uws-ceiling');
      const port = await freePort();
      const srv = start(process.execPath, [join(dir, 'server.mjs')], {
        cwd: dir,
        env: { PORT: String(port), BENCH_KEYS_FILE: keyMapFile(ctx.dir, ctx.keys) },
      });
      await waitFor(async () => (await httpStatus(port, '/readyz')) === 200, 15000, 'uws-ceiling', srv);
      return {
        port,
        path: '/ws',
        serverPids: [srv.pid],
        cpuCounted: 'the uws-ceiling node process (which also generates the events)',
        publisherPids: [],
        clients: apiKeyClients(ctx, ctx.keys),
        async publish(plan) {
          const r = await httpRequest(port, 'POST', '/bench/generate', JSON.stringify(plan));
          if (r.status !== 200) throw new Error(`uws-ceiling generate: ${r.status} ${r.body}`);
          return JSON.parse(r.body);
        },
        teardown: () => stop(srv),
      };
    },
  },

  'ws-baseline': {
    describe: '`ws` + NATS written the usual way: one sms.> subscription, loop over all sockets, filter by scope',
    async setup(ctx) {
      const dir = installPeer('ws-baseline', { allowNpm: ctx.allowNpm, projectFallback: true });
      const nats = await startNats();
      const port = await freePort();
      const srv = start(process.execPath, [join(dir, 'server.mjs')], {
        cwd: dir,
        env: { PORT: String(port), NATS_URL: nats.url, BENCH_KEYS_FILE: keyMapFile(ctx.dir, ctx.keys) },
      });
      try {
        await waitFor(() => tcpOpen(port), 15000, 'ws-baseline', srv);
      } catch (e) {
        await stop(nats.child);
        throw e;
      }
      const pub = await startPublisher({ mode: 'msgpack-core', natsUrl: nats.url });
      return {
        port,
        path: '/ws',
        serverPids: [srv.pid, nats.child.pid],
        natsPids: [nats.child.pid],
        cpuCounted: 'the ws-baseline node process + nats-server',
        publisherPids: [pub.child.pid],
        clients: apiKeyClients(ctx, ctx.keys),
        publish: (plan) => pub.publish(plan),
        async teardown() {
          await pub.stop();
          await stop(srv);
          await stop(nats.child);
        },
      };
    },
  },

  'nats-ws': {
    describe: "nats-server's own WebSocket listener; clients speak NATS (CONNECT, SUB sms.<t>.<a>.* or sms.>) and get MSG frames",
    async setup(ctx) {
      const nats = await startNats({ websocket: true });
      const pub = await startPublisher({ mode: 'json-core', natsUrl: nats.url });
      return {
        port: nats.wsPort,
        path: '/',
        serverPids: [nats.child.pid],
        cpuCounted: 'nats-server',
        publisherPids: [pub.child.pid],
        clients: (kind, scopes) => ({
          auth: 'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false,"name":"bench"}\\r\\nSUB %KEY% 1\\r\\nPING\\r\\n',
          authAfterFirst: true, // the server speaks first (INFO)
          keysFile: linesFile(ctx.dir, `subjects-${kind}-${scopes.length}.txt`,
            kind === 'admin' ? ['sms.>'] : scopes.map(([t, a]) => `sms.${t}.${a}.*`)),
          ready: 'PONG',
          fail: '-ERR',
          typeKey: '',
        }),
        publish: (plan) => pub.publish(plan),
        async teardown() {
          await pub.stop();
          await stop(nats.child);
        },
      };
    },
  },

  soketi: {
    describe: 'Soketi 1.6 (Pusher protocol, uWebSockets.js), NATS adapter, events through its signed HTTP API (batch_events)',
    async setup(ctx) {
      const dir = installPeer('soketi', { allowNpm: ctx.allowNpm });
      const nats = await startNats();
      const port = await freePort();
      const udp = await freePort(); // node-discover's UDP port: kept on loopback (unicast to 127.0.0.1)
      const app = { appId: 'bench', appKey: 'bench-key', appSecret: randomBytes(16).toString('hex') };
      // node-discover (Soketi's cluster discovery) binds 0.0.0.0 and broadcasts to 255.255.255.255
      // by default: bind it to 127.0.0.1 and send unicast to 127.0.0.1 only.
      const conf = join(ctx.dir, 'soketi.json');
      writeFileSync(conf, JSON.stringify({ 'cluster.address': '127.0.0.1', 'cluster.hostname': '127.0.0.1', 'cluster.unicast': '127.0.0.1', 'cluster.port': udp }));
      const bin = join(dir, 'node_modules', '@soketi', 'soketi', 'bin', 'server.js');
      const srv = start(process.execPath, [bin, 'start', `--config=${conf}`], {
        cwd: dir,
        env: {
          SOKETI_HOST: '127.0.0.1',
          SOKETI_PORT: String(port),
          SOKETI_DEFAULT_APP_ID: app.appId,
          SOKETI_DEFAULT_APP_KEY: app.appKey,
          SOKETI_DEFAULT_APP_SECRET: app.appSecret,
          SOKETI_ADAPTER_DRIVER: 'nats',
          SOKETI_ADAPTER_NATS_SERVERS: JSON.stringify([`127.0.0.1:${nats.port}`]),
          SOKETI_ADAPTER_NATS_NODES_NUMBER: '1',
          SOKETI_CLUSTER_HOST: '127.0.0.1',
          SOKETI_CLUSTER_PORT: String(udp),
          SOKETI_CLUSTER_UNICAST_ADDRESSES: '127.0.0.1',
          SOKETI_METRICS_ENABLED: 'false',
          SOKETI_DEBUG: 'false',
        },
      });
      try {
        await waitFor(async () => (await httpStatus(port, '/')) === 200, 30000, 'soketi', srv);
      } catch (e) {
        await stop(srv);
        await stop(nats.child);
        throw e;
      }
      const pub = await startPublisher({ mode: 'pusher', httpPort: port, ...app });
      return {
        port,
        path: `/app/${app.appKey}?protocol=7&client=bench&version=1.0`,
        serverPids: [srv.pid, nats.child.pid],
        natsPids: [nats.child.pid],
        cpuCounted: 'the soketi node process + nats-server (its adapter)',
        publisherPids: [pub.child.pid],
        clients: (kind, scopes) => ({
          auth: '{"event":"pusher:subscribe","data":{"channel":"%KEY%"}}',
          authAfterFirst: true, // pusher:connection_established comes first
          keysFile: linesFile(ctx.dir, `channels-${kind}-${scopes.length}.txt`,
            kind === 'admin' ? ['admin'] : scopes.map(([t, a]) => `sms-${t}-${a}`)),
          ready: 'subscription_succeeded',
          fail: 'pusher:error',
          typeKey: '"event":"',
        }),
        publish: (plan) => pub.publish(plan),
        async teardown() {
          await pub.stop();
          await stop(srv);
          await stop(nats.child);
        },
      };
    },
  },

  centrifugo: {
    describe: 'Centrifugo v6 (Go), NATS broker in raw mode: JWT channels claim subscribes each socket server-side to sms.<t>.<a>.status (admins: sms.>), events are core NATS publishes of JSON to that subject',
    notExpressible: CENTRIFUGO_NA,
    setup: (ctx) => setupCentrifugo(ctx, { rawMode: true }),
  },
  'centrifugo-api': {
    describe: 'Centrifugo v6, NATS broker in its own format: same tokens and channels (admins: channel admin), events through its server HTTP API (/api/batch, 10 per request; admin-firehose: broadcast to the scope channel and admin)',
    notExpressible: CENTRIFUGO_NA,
    setup: (ctx) => setupCentrifugo(ctx, { rawMode: false }),
  },
};

async function setupCentrifugo(ctx, { rawMode }) {
  const bin = ensureCentrifugo({ allowBuild: false }); // run.mjs builds it, if allowed, before the clock starts
  const nats = await startNats();
  let cf;
  try {
    cf = await startCentrifugo({ bin, dir: ctx.dir, natsUrl: nats.url, rawMode });
  } catch (e) {
    await stop(nats.child);
    throw e;
  }
  const pub = await startPublisher(
    rawMode ? { mode: 'json-core', natsUrl: nats.url } : { mode: 'centrifugo-api', httpPort: cf.port, apiKey: cf.apiKey, adminChannel: API_ADMIN_CHANNEL },
  );
  return {
    port: cf.port,
    path: '/connection/websocket',
    serverPids: [cf.child.pid, nats.child.pid],
    natsPids: [nats.child.pid],
    cpuCounted: `the centrifugo process + nats-server (its broker)${rawMode ? '' : '; the server API requests are part of it'}`,
    publisherPids: [pub.child.pid],
    // one token per scope (sub = the scope), as a backend would mint them for its users
    clients: (kind, scopes) => ({
      auth: '{"id":1,"connect":{"token":"%KEY%"}}',
      keysFile: linesFile(ctx.dir, `centrifugo-${rawMode ? 'raw' : 'api'}-${kind}-${scopes.length}.txt`,
        kind === 'admin'
          ? [connectionToken(cf.secret, 'admin', [rawMode ? ADMIN_CHANNEL : API_ADMIN_CHANNEL])]
          : scopes.map(([t, a]) => connectionToken(cf.secret, `${t}-${a}`, [scopeChannel(t, a)]))),
      ready: '"connect":{"client"',
      fail: '"error":{',
      appPing: '{}', // the server's ping every 25 s, to be answered within 8 s
    }),
    publish: (plan) => pub.publish(plan),
    async teardown() {
      await pub.stop();
      await stop(cf.child);
      await stop(nats.child);
    },
  };
}

async function setupGateway(ctx, durable, dir = repoDir, { tokens = false, partitions = 1 } = {}) {
  const main = join(dir, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error('dist/cli/main.js missing: run `npm run build` first');
  // STREAM_PARTITIONS > 1: the server gets the mapping rendered by the project itself.
  const mappings = partitions > 1 ? (await import(join(dir, 'dist', 'bus', 'partitions.js'))).renderMappings(partitions) : undefined;
  const nats = await startNats({ jetstream: true, extra: mappings });
  const port = await freePort();
  const metricsPort = await freePort();
  // BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway under load.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gw = start(process.execPath, [...nodeArgs, main, 'serve'], {
    cwd: dir,
    // No drain at teardown: its sockets are gone by then (and a profile is written at exit).
    env: { NATS_URL: nats.url, PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn', AUTO_PROVISION: 'true', DRAIN_DELAY_MS: '0', DRAIN_WINDOW_MS: '0', ...(partitions > 1 ? { STREAM_PARTITIONS: String(partitions) } : {}) },
  });
  let clientKeys = ctx.keys;
  const teardownEarly = async () => {
    // The node's NATS pings (2 s x 2) must not call a busy server stale: reconnects stay 0 under load.
    const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
    const reconnects = /^smsws_nats_reconnects_total (\d+)/m.exec(text)?.[1] ?? 'unknown';
    console.log(`  gateway: smsws_nats_reconnects_total ${reconnects} during the run`);
    await stop(gw, 1500); // sockets are gone by then; no need to sit through the drain window
    await stop(nats.child);
  };
  try {
    await waitFor(async () => (await httpStatus(port, '/readyz')) === 200, 30000, 'gateway /readyz', gw);
    await putGatewayKeys(nats.url, ctx.keys);
    if (tokens) clientKeys = await gatewayTokens(nats.url, ctx.keys, dir);
    await sleep(300); // the node watches the bucket; give the watch a moment to apply 1 000 puts
  } catch (e) {
    await teardownEarly();
    throw e;
  }
  const pub = await startPublisher({ mode: durable ? 'msgpack-js' : 'msgpack-core', natsUrl: nats.url });
  return {
    port,
    path: '/ws',
    serverPids: [gw.pid, nats.child.pid],
    natsPids: [nats.child.pid],
    cpuCounted: 'gateway node process + nats-server',
    publisherPids: [pub.child.pid],
    clients: apiKeyClients(ctx, clientKeys),
    // Server-side filters (the `filtered` scenario): not in a gateway-before older than them.
    tailClients: dir === repoDir ? tailClients(ctx, clientKeys) : undefined,
    publish: (plan) => pub.publish(plan),
    async teardown() {
      await pub.stop();
      await teardownEarly();
    },
  };
}

/**
 * One signer per tenant and a connection token per app scope, minted with the project's own
 * helper (dist/): the same keys object, with tokens where the API keys were (admin stays a key).
 */
async function gatewayTokens(natsUrl, keys, dir) {
  const { connect } = await import('@nats-io/transport-node');
  const { Kvm } = await import('@nats-io/kv');
  const { createSigner } = await import(join(dir, 'dist', 'tokens', 'signer-admin.js'));
  const { createConnectionToken } = await import(join(dir, 'dist', 'tokens', 'mint-token.js'));
  const nc = await connect({ servers: natsUrl, name: 'bench-signers' });
  try {
    const kv = await new Kvm(nc).open('sms_token_signers');
    const signers = new Map();
    for (const tenantId of new Set(keys.app.map((k) => k.tenantId))) signers.set(tenantId, await createSigner(kv, { tenantId }));
    const app = keys.app.map((k) => {
      const s = signers.get(k.tenantId);
      const apiKey = createConnectionToken({ privateKey: s.privateKeyPem, kid: s.kid, tenantId: k.tenantId, appId: k.appId, ttlSeconds: 3600 });
      return { ...k, apiKey };
    });
    return { app, admin: keys.admin };
  } finally {
    await nc.close();
  }
}

async function putGatewayKeys(natsUrl, keys) {
  const { connect } = await import('@nats-io/transport-node');
  const { Kvm } = await import('@nats-io/kv');
  const nc = await connect({ servers: natsUrl, name: 'bench-keys' });
  try {
    const kv = await new Kvm(nc).open('sms_api_keys');
    const createdAt = new Date().toISOString();
    const puts = keys.app.map((k) =>
      kv.put(sha256(k.apiKey), JSON.stringify({ role: 'app', tenantId: k.tenantId, appId: k.appId, label: 'bench', createdAt })),
    );
    puts.push(kv.put(sha256(keys.admin.apiKey), JSON.stringify({ role: 'admin', label: 'bench', createdAt })));
    await Promise.all(puts);
  } finally {
    await nc.close();
  }
}

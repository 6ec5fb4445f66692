// Centrifugo v6 as a bench peer: its binary (built with `go install` into the bench's Go peer
// cache when missing), its generated config, its connection JWTs, its start. See docs/bench.md.
//
//   node bench/lib/centrifugo.mjs install   builds the pinned version into the cache when missing
//                                           (what .ci/run does before bench:quick); prints the path
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, httpStatus, start, stop, waitFor } from './proc.mjs';

export const CENTRIFUGO_MODULE = 'github.com/centrifugal/centrifugo/v6';
export const CENTRIFUGO_VERSION = 'v6.9.1';

/** The Go peer cache: $XDG_CACHE_HOME (or ~/.cache)/sms-ws-gateway/go-bin, never committed. */
export function goBinDir() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sms-ws-gateway', 'go-bin');
}

/** CENTRIFUGO_BIN overrides the cached binary (e.g. a release download). */
export function centrifugoBin() {
  return process.env.CENTRIFUGO_BIN || join(goBinDir(), 'centrifugo');
}

/**
 * The module version a binary was built from: its Go build info (`go version -m`), else what the
 * binary says of itself (a release build, or ours, stamps it). null when there is no binary.
 */
export function centrifugoVersion(bin = centrifugoBin()) {
  if (!existsSync(bin)) return null;
  try {
    const info = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /^\s*mod\s+github\.com\/centrifugal\/centrifugo\/v6\s+(v\S+)/m.exec(info);
    if (m) return m[1];
  } catch {}
  try {
    const out = execFileSync(bin, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /Centrifugo v?(\d+\.\d+\.\d+)/.exec(out);
    if (m && m[1] !== '0.0.0') return `v${m[1]}`;
  } catch {}
  return 'unknown';
}

/**
 * The pinned Centrifugo binary; built with `go install` when missing or of another version and
 * `allowBuild` (a cold build downloads its modules: minutes, see docs/bench.md), else an error
 * that says how to get it.
 */
export function ensureCentrifugo({ allowBuild = true } = {}) {
  const bin = centrifugoBin();
  const have = centrifugoVersion(bin);
  if (have === CENTRIFUGO_VERSION || (process.env.CENTRIFUGO_BIN && have)) return bin;
  if (process.env.CENTRIFUGO_BIN) throw new Error(`CENTRIFUGO_BIN=${bin}: no such file`);
  const fix = `node bench/lib/centrifugo.mjs install (needs Go) builds ${CENTRIFUGO_MODULE}@${CENTRIFUGO_VERSION} into ${goBinDir()}`;
  if (!allowBuild) throw new Error(`centrifugo ${CENTRIFUGO_VERSION} not built (found: ${have ?? 'none'}); ${fix}`);
  mkdirSync(goBinDir(), { recursive: true });
  const t0 = Date.now();
  try {
    execFileSync('go', ['install', '-trimpath', '-ldflags', `-s -w -X ${CENTRIFUGO_MODULE}/internal/build.Version=${CENTRIFUGO_VERSION.slice(1)}`, `${CENTRIFUGO_MODULE}@${CENTRIFUGO_VERSION}`], {
      env: { ...process.env, GOBIN: goBinDir(), CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 900000,
    });
  } catch (e) {
    throw new Error(`go install ${CENTRIFUGO_MODULE}@${CENTRIFUGO_VERSION} failed (${e.message.split('\n')[0]}); ${fix}`);
  }
  console.error(`centrifugo ${CENTRIFUGO_VERSION} built into ${goBinDir()} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return bin;
}

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** An HS256 connection JWT: `sub`, `exp` and `channels`, the channels the server subscribes the socket to. */
export function connectionToken(secret, sub, channels, ttlSeconds = 3600) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds, channels });
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}

/** A scope's channel: in raw NATS mode the channel name is the NATS subject, the gateway's own. */
export const scopeChannel = (tenantId, appId) => `sms.${tenantId}.${appId}.status`;
/** Every tenant's events, raw mode: a NATS wildcard channel (broker.nats.allow_wildcards). */
export const ADMIN_CHANNEL = 'sms.>';
/** Every tenant's events, through the server API: one more channel each event is broadcast to. */
export const API_ADMIN_CHANNEL = 'admin';

/**
 * Starts Centrifugo on a free loopback port with its NATS broker on `natsUrl`, HMAC connection
 * tokens, usage stats off; resolves { child, port, secret, apiKey, configFile }.
 * rawMode: Centrifugo subscribes to the channels' own NATS subjects and passes their payload
 * through (events published straight to NATS); otherwise its broker wraps publications in its own
 * format on `centrifugo.`-prefixed subjects and events come through the server HTTP API.
 */
export async function startCentrifugo({ bin, dir, natsUrl, rawMode = true }) {
  const port = await freePort();
  const secret = randomBytes(32).toString('hex');
  const apiKey = randomBytes(16).toString('hex');
  const config = {
    http_server: { address: '127.0.0.1', port },
    log: { level: 'warn' },
    usage_stats: { disabled: true }, // it would otherwise report to the vendor over the internet
    health: { enabled: true },
    client: { token: { hmac_secret_key: secret } },
    http_api: { key: apiKey }, // X-API-Key of the server API (the centrifugo-api peer's publisher)
    broker: {
      enabled: true,
      type: 'nats',
      nats: rawMode ? { url: natsUrl, allow_wildcards: true, raw_mode: { enabled: true } } : { url: natsUrl },
    },
  };
  const configFile = join(dir, `centrifugo-${port}.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 1));
  const child = start(bin, ['--config', configFile], { cwd: dir });
  try {
    await waitFor(async () => (await httpStatus(port, '/health')) === 200, 20000, 'centrifugo /health', child);
  } catch (e) {
    await stop(child);
    throw e;
  }
  return { child, port, secret, apiKey, configFile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== 'install') {
    console.error('usage: node bench/lib/centrifugo.mjs install');
    process.exit(2);
  }
  try {
    console.log(`${ensureCentrifugo({ allowBuild: true })} (${centrifugoVersion()})`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}

#!/usr/bin/env node
// Bench harness: the gateway side by side with the peers a user would pick instead, same load
// generator, same machine, same run. See docs/bench.md.
//
//   node bench/run.mjs            full run (< 15 min): 10 000 sockets, all peers, writes bench/results/
//   node bench/run.mjs --quick    smoke run (< 90 s): small N, short steps; never a timing assertion
// Options: --peers a,b  --scenarios x,y  --sockets N  --out NAME  --durable (gateway via JetStream)
//          (extra peers: gateway-partitioned, gateway-tokens, gateway-before, centrifugo-api)
//          --partitions K (the gateway-partitioned peer: STREAM_PARTITIONS=K, default 4)
//          --install (quick mode too installs missing peers with npm and builds Centrifugo with go)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen, LoadgenGroup } from './lib/loadgen.mjs';
import { mixOf } from './lib/pace.mjs';
import { PEERS, makeKeys } from './lib/peers.mjs';
import { cpuMs, kernelMem, killAll, rssKb, sleep, userCpuMs } from './lib/proc.mjs';
import { writeReport } from './lib/report.mjs';
import { NATS_BIN } from './lib/nats.mjs';
import { centrifugoVersion, ensureCentrifugo } from './lib/centrifugo.mjs';
import { SseGroup } from './lib/sse.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const quick = flag('quick');

const SCENARIOS = ['hot-scope', 'many-scopes', 'filtered', 'sse', 'admin-firehose', 'connect-storm', 'idle'];
const cfg = quick
  ? {
      sockets: 1000, scopes: 100, admins: 20, stepSecs: 1, hardLimitS: 88, budgetS: 70,
      ladder: { 'hot-scope': [20e3, 80e3], 'many-scopes': [10e3, 40e3], filtered: [10e3, 40e3], 'admin-firehose': [10e3, 40e3], sse: [5e3, 20e3] },
      sseStreams: 200,
      bursts: [1, 100], burstCount: 2, burstGapMs: 300, drainMaxMs: 1500,
    }
  : {
      sockets: 10000, scopes: 1000, admins: 100, stepSecs: 2, hardLimitS: 890, budgetS: 800,
      ladder: {
        'hot-scope': [50e3, 100e3, 200e3, 400e3, 600e3, 800e3, 1.2e6, 1.6e6],
        'many-scopes': [10e3, 20e3, 30e3, 50e3, 75e3, 100e3, 150e3, 200e3, 300e3],
        filtered: [10e3, 20e3, 30e3, 50e3, 75e3, 100e3, 150e3, 200e3, 300e3],
        'admin-firehose': [25e3, 50e3, 100e3, 200e3, 400e3, 600e3, 800e3, 1.2e6],
        sse: [10e3, 20e3, 40e3, 80e3, 120e3, 160e3],
      },
      sseStreams: 2000,
      bursts: [1, 10, 100], burstCount: 4, burstGapMs: 1000, drainMaxMs: 4000,
    };
cfg.sockets = Number(opt('sockets', cfg.sockets));
// centrifugo before soketi: in --quick mode, on a busy machine, the time budget runs out at the end
// the full run measures the durable path (the production default) beside the direct one; --quick keeps one
const peerNames = opt('peers', `gateway,${quick ? '' : 'gateway-durable,'}uws-ceiling,ws-baseline,nats-ws,centrifugo,soketi`).split(',');
const scenarios = opt('scenarios', SCENARIOS.join(',')).split(',');
const outName = opt('out', quick ? 'quick' : 'latest');
const P99_LIMIT_US = 10000;

// Centrifugo's first build (go install: minutes when cold) runs before the time limits start; a
// failure is reported by the peer itself ("could not run") when its turn comes
if (peerNames.some((p) => p.startsWith('centrifugo')) && (!quick || flag('install'))) {
  try {
    ensureCentrifugo({ allowBuild: true });
  } catch (e) {
    console.error(`bench: ${e.message}`);
  }
}

const started = Date.now();
const hardStop = setTimeout(() => {
  console.error(`bench: hard time limit ${cfg.hardLimitS} s reached, stopping`);
  killAll();
  process.exit(2);
}, cfg.hardLimitS * 1000);
hardStop.unref();
const log = (...a) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);

// ---- scopes: hot = t0/a0; many = cfg.scopes scopes over tenants of 10 apps ----
const manyScopes = Array.from({ length: cfg.scopes }, (_, k) => [`t${Math.floor(k / 10)}`, `a${k % 10}`]);
const hotScope = [manyScopes[0]];

function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model;
  return { nproc: cpus().length, cpu, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release() };
}
function versions() {
  const v = { node: process.version };
  const tryRun = (k, f) => {
    try {
      v[k] = f();
    } catch {
      v[k] = null;
    }
  };
  tryRun('nats-server', () => execFileSync(NATS_BIN, ['--version']).toString().trim());
  tryRun('gcc', () => execFileSync('gcc', ['-dumpfullversion']).toString().trim());
  tryRun('gateway', () => execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: benchDir }).toString().trim());
  const pkgVer = (p) => JSON.parse(readFileSync(p, 'utf8')).version;
  // The uWS this runtime loads (src/runtime/uws-runtime.ts): the production package, or on an
  // older host the development fallback.
  tryRun('uWebSockets.js', () => {
    const modules = join(benchDir, '..', 'node_modules');
    try {
      createRequire(import.meta.url)('uWebSockets.js');
      return pkgVer(join(modules, 'uWebSockets.js', 'package.json'));
    } catch {
      return `${pkgVer(join(modules, 'uws-dev-fallback', 'package.json'))} (development fallback)`;
    }
  });
  tryRun('ws', () => {
    for (const p of [join(benchDir, '.peers', 'ws-baseline', 'node_modules', 'ws', 'package.json'), join(benchDir, '..', 'node_modules', 'ws', 'package.json')]) {
      try {
        return pkgVer(p);
      } catch {}
    }
    return null;
  });
  tryRun('soketi', () => pkgVer(join(benchDir, '.peers', 'soketi', 'node_modules', '@soketi', 'soketi', 'package.json')));
  if (peerNames.includes('centrifugo')) tryRun('centrifugo', () => centrifugoVersion());
  return v;
}

// ---- one measured step ----
function machineBusyTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { idle, total };
}

async function quiesce(h) {
  // wait for the servers to go idle (< 10 % of a core over 200 ms), at most 2 s (quick) or 8 s,
  // and, the machine being shared, for the whole machine to be calm (< 30 % of its cores over
  // 200 ms), for at most 3 s of that (so a busy neighbour cannot eat the run's time budget)
  const end = Date.now() + (quick ? 2000 : 8000);
  const calmEnd = Date.now() + (quick ? 0 : 3000);
  while (Date.now() < end) {
    const a = cpuMs(h.serverPids);
    const m0 = machineBusyTicks();
    await sleep(200);
    const m1 = machineBusyTicks();
    const busy = 1 - (m1.idle - m0.idle) / Math.max(1, m1.total - m0.total);
    if (cpuMs(h.serverPids) - a < 20 && (busy < 0.3 || Date.now() > calmEnd)) return;
  }
}

/**
 * Publishes one plan, waits for the deliveries to arrive (or stall), returns the step's figures.
 * fanout(k, i): sockets that must receive event i, of scope index k.
 */
async function step(h, group, plan, fanout, label, p99LimitUs = P99_LIMIT_US) {
  await quiesce(h);
  await group.mark();
  const base = (await group.count()).events;
  const cpu0 = cpuMs(h.serverPids);
  const user0 = userCpuMs(h.serverPids);
  // nats-server's part of the server CPU (peers fed through NATS), to tell it from the node's own
  const natsPids = h.natsPids ?? [];
  const nats0 = cpuMs(natsPids);
  const natsUser0 = userCpuMs(natsPids);
  const lg0 = group.procs.map((p) => cpuMs([p.child.pid]));
  const pub0 = cpuMs(h.publisherPids);
  const m0 = machineBusyTicks();
  const t0 = performance.now();
  const r = await h.publish({ ...plan, scopes: plan.scopes });
  let expected = 0;
  for (let i = 0; i < r.sent; i++) expected += fanout(i % plan.scopes.length, i);
  // drain: until everything arrived, or no progress for 1 s, or drainMaxMs
  let last = -1;
  let lastChange = performance.now();
  let tDone = performance.now();
  const drainEnd = performance.now() + cfg.drainMaxMs;
  for (;;) {
    const c = await group.count();
    const now = performance.now();
    if (c.events !== last) {
      last = c.events;
      lastChange = now;
      tDone = now;
    }
    if (c.events - base >= expected || now - lastChange > 1000 || now > drainEnd) break;
    await sleep(50);
  }
  const m = await group.mark();
  const elapsed = (tDone - t0) / 1000;
  const wall = (performance.now() - t0) / 1000;
  const serverCpu = cpuMs(h.serverPids) - cpu0;
  const serverUser = userCpuMs(h.serverPids) - user0;
  const natsCpu = cpuMs(natsPids) - nats0;
  const natsUser = userCpuMs(natsPids) - natsUser0;
  const lgCpu = group.procs.map((p, i) => cpuMs([p.child.pid]) - lg0[i]);
  const pubCpu = cpuMs(h.publisherPids) - pub0;
  const m1 = machineBusyTicks();
  const busy = 1 - (m1.idle - m0.idle) / Math.max(1, m1.total - m0.total);
  const lgMaxShare = Math.max(...lgCpu) / (wall * 1000);
  const pubShare = pubCpu / (wall * 1000);
  const offeredRate = plan.bursts ? null : plan.rate * (expected / Math.max(1, r.sent));
  const lost = Math.max(0, expected - m.events);
  const res = {
    label,
    plan: { rate: plan.rate, secs: plan.secs, burst: plan.burst, bursts: plan.bursts, gapMs: plan.gapMs },
    offeredDeliveriesPerSec: offeredRate && Math.round(offeredRate),
    eventsSent: r.sent,
    publishSecs: +r.secs.toFixed(3),
    expected,
    received: m.events,
    lost,
    deliveriesPerSec: Math.round(m.events / Math.max(elapsed, 1e-3)),
    latencyUs: m.latency_us,
    sampled: m.sampled,
    serverCpuMs: Math.round(serverCpu),
    cpuMsPer100k: m.events ? +((serverCpu * 1e5) / m.events).toFixed(1) : null,
    userCpuMsPer100k: m.events ? +((serverUser * 1e5) / m.events).toFixed(1) : null,
    // of the server CPU above, what nats-server used (null for a peer without one)
    natsCpuMsPer100k: natsPids.length && m.events ? +((natsCpu * 1e5) / m.events).toFixed(1) : null,
    natsUserCpuMsPer100k: natsPids.length && m.events ? +((natsUser * 1e5) / m.events).toFixed(1) : null,
    loadgenCpuShare: +lgMaxShare.toFixed(2),
    publisherCpuShare: +pubShare.toFixed(2),
    machineBusy: +busy.toFixed(2),
    clientBound: lgMaxShare > 0.85 || pubShare > 0.85 || (offeredRate !== null && r.secs > plan.secs * 1.2),
    lateFromEarlier: Math.max(0, m.events - expected), // deliveries beyond the expected: a previous step's backlog
    closedSockets: Object.values(m.close_codes ?? {}).reduce((a, b) => a + b, 0),
    closeCodes: m.close_codes,
    types: m.types,
  };
  res.p99LimitUs = p99LimitUs;
  res.pass = lost === 0 && res.closedSockets === 0 && m.latency_us.p99 !== null && m.latency_us.p99 < p99LimitUs;
  const lat = m.latency_us;
  log(
    `  ${label}: sent ${r.sent} recv ${m.events}/${expected} lost ${lost} ${res.deliveriesPerSec}/s`,
    `p50 ${fmtUs(lat.p50)} p99 ${fmtUs(lat.p99)} max ${fmtUs(lat.max)} cpu ${res.cpuMsPer100k} (user ${res.userCpuMsPer100k}${res.natsCpuMsPer100k === null ? '' : `, nats ${res.natsCpuMsPer100k}`}) ms/100k`,
    `lg ${res.loadgenCpuShare} pub ${res.publisherCpuShare} busy ${res.machineBusy}${res.clientBound ? ' CLIENT-BOUND' : ''} ${res.pass ? 'ok' : 'FAIL'}`,
  );
  return res;
}
const fmtUs = (us) => (us === null ? '-' : us >= 1000 ? `${(us / 1000).toFixed(1)}ms` : `${us}us`);

async function connectGroup(h, kind, scopes, sockets, label, clients = h.clients(kind, scopes)) {
  const group = LoadgenGroup.start({
    port: h.port,
    path: h.path,
    sockets,
    concurrency: 512,
    label,
    maxSeconds: quick ? 80 : 400,
    ...clients,
  });
  const wave = await group.waitReady(60000);
  log(`  ${label}: ${wave.ready}/${sockets} ready in ${wave.ms.toFixed(0)} ms (${wave.rate.toFixed(0)}/s), failed ${wave.failed}`);
  if (wave.ready === 0) {
    await group.quit();
    throw new Error(`no socket could connect and authenticate: ${JSON.stringify(wave.errors)}`);
  }
  return { group, wave };
}

async function ladder(h, group, scenario, scopes, fanout, sockets, p99LimitUs = P99_LIMIT_US, perEvent = undefined) {
  const fanTotal = scopes.reduce((a, _, k) => a + fanout(k), 0);
  perEvent ??= fanTotal / scopes.length;
  const steps = [];
  for (const target of cfg.ladder[scenario]) {
    const rate = target / perEvent;
    const secs = Math.max(cfg.stepSecs, Math.min(8, 10 / rate));
    const plan = { rate, secs, burst: 1, scopes, admin: scenario === 'admin-firehose', mix: scenario === 'filtered' };
    let s = await step(h, group, plan, fanout, `${scenario} ${fmtRate(target)}`, p99LimitUs);
    // the machine is shared: a step that failed on latency alone is measured again, up to twice,
    // and the last measurement kept (the earlier ones stay in the JSON as firstAttempt, chained)
    for (let retry = 0; !quick && retry < 2 && !s.pass && s.lost === 0; retry++) {
      const again = await step(h, group, plan, fanout, `${scenario} ${fmtRate(target)} (again)`, p99LimitUs);
      s = { ...again, firstAttempt: s };
    }
    steps.push(s);
    if (!s.pass) break; // one failing step shows where it breaks; more would only queue
  }
  const ok = steps.filter((s) => s.pass);
  return {
    sockets,
    scopes: scopes.length,
    steps,
    maxSustainedDeliveriesPerSec: ok.length ? Math.max(...ok.map((s) => s.offeredDeliveriesPerSec)) : 0,
    clientBoundAtMax: ok.length ? ok[ok.length - 1].clientBound : false,
    p99LimitUs,
  };
}
const fmtRate = (r) => (r >= 1e6 ? `${r / 1e6}M/s` : `${r / 1e3}k/s`);

async function runPeer(name, ctx) {
  const peer = PEERS[name];
  const out = { describe: peer.describe, status: 'ok', scenarios: {} };
  const N = cfg.sockets;
  // past the time budget, the remaining scenarios are skipped (and said so) rather than cut by the hard limit
  const want = (s) => {
    if (!scenarios.includes(s)) return false;
    if ((Date.now() - started) / 1000 < cfg.budgetS) return true;
    (out.skipped ??= []).push(s);
    return false;
  };
  // A fresh server for each group of scenarios: a peer still working through the backlog of a
  // saturated step must not slow down (or leak late deliveries into) the next scenario.
  let setups = 0;
  const withServer = async (what, fn) => {
    let h;
    try {
      h = await peer.setup(ctx);
    } catch (e) {
      const reason = String(e.message ?? e).slice(0, 1500);
      if (setups === 0) {
        out.status = 'could not run';
        out.reason = reason;
      } else (out.errors ??= {})[what] = reason;
      log(`${name}: could not start for ${what}: ${reason.split('\n')[0]}`);
      return false;
    }
    setups++;
    out.cpuCounted = h.cpuCounted;
    try {
      await sleep(300);
      await fn(h);
    } catch (e) {
      (out.errors ??= {})[what] = String(e.stack ?? e).slice(0, 2000);
      log(`${name}: ${what} failed: ${String(e.message ?? e).split('\n')[0]}`);
    } finally {
      await h.teardown().catch(() => {});
    }
    return true;
  };

  if (want('hot-scope') || want('idle') || want('connect-storm')) {
    const ok = await withServer('hot-scope', async (h) => {
      const rss0 = rssKb(h.serverPids);
      const k0 = kernelMem();
      const { group, wave } = await connectGroup(h, 'app', hotScope, N, 'hot-scope connect');
      try {
        await sleep(quick ? 500 : 1500);
        const rss1 = rssKb(h.serverPids);
        const k1 = kernelMem();
        out.scenarios.idle = {
          sockets: wave.ready,
          serverRssDeltaKb: rss1 - rss0,
          rssBytesPerSocket: Math.round(((rss1 - rss0) * 1024) / Math.max(1, wave.ready)),
          kernelSlabBytesPerSocketPair: Math.round(((k1.slabKb - k0.slabKb) * 1024) / Math.max(1, wave.ready)),
          kernelTcpBufBytesPerSocketPair: Math.round(((k1.tcpMemKb - k0.tcpMemKb) * 1024) / Math.max(1, wave.ready)),
          note: 'RSS of the server processes counted (see cpuCounted); kernel figures include both ends of each loopback connection',
        };
        log(`  idle: ${out.scenarios.idle.rssBytesPerSocket} B RSS/socket, kernel slab ${out.scenarios.idle.kernelSlabBytesPerSocketPair} B/pair`);
        if (want('connect-storm')) {
          const re = await group.reconnect(60000);
          out.scenarios['connect-storm'] = { sockets: N, initial: wave, reconnect: re };
          log(`  connect-storm: reconnect of ${N}: ${re.ms.toFixed(0)} ms (${re.rate.toFixed(0)}/s), failed ${re.failed}`);
          await sleep(300);
        }
        if (want('hot-scope')) {
          const fan = () => wave.ready;
          // One event to N sockets in one scope is N socket writes: on loopback with 2 cores that alone
          // can take longer than 10 ms (about 1 ms per 1 000 sockets). The hot-scope ladder therefore
          // passes a step at p99 < max(10 ms, 2 x this peer's single-event fan-out p99, from burst 1).
          const floor = await step(h, group, { burst: 1, bursts: cfg.burstCount, gapMs: cfg.burstGapMs, scopes: hotScope }, fan, 'hot-scope burst 1');
          const floorUs = floor.latencyUs.p99 ?? 0;
          const limit = Math.max(P99_LIMIT_US, 2 * floorUs);
          const sc = { ...(await ladder(h, group, 'hot-scope', hotScope, fan, wave.ready, limit)), fanoutFloorP99Us: floorUs };
          // bursts last: a peer that cannot keep up with a burst of 100 leaves a backlog behind it
          sc.bursts = [floor];
          for (const b of cfg.bursts.filter((b) => b !== 1)) {
            if (sc.bursts.some((x) => x.lost > 0)) {
              sc.burstsSkipped = `bursts of ${b} and more: the previous burst was not delivered within the drain window`;
              break;
            }
            sc.bursts.push(await step(h, group, { burst: b, bursts: cfg.burstCount, gapMs: cfg.burstGapMs, scopes: hotScope }, fan, `hot-scope burst ${b}`));
          }
          out.scenarios['hot-scope'] = sc;
        }
      } finally {
        await group.quit();
      }
    });
    if (!ok && setups === 0) return out;
  }
  if (want('many-scopes')) {
    await withServer('many-scopes', async (h) => {
      const { group, wave } = await connectGroup(h, 'app', manyScopes, N, 'many-scopes connect');
      try {
        // socket i is in scope i % scopes; count only the sockets that authenticated
        const counts = new Array(manyScopes.length).fill(0);
        for (let i = 0; i < N; i++) counts[i % manyScopes.length]++;
        if (wave.failed) log(`  many-scopes: ${wave.failed} sockets failed to connect; they show as lost deliveries`);
        out.scenarios['many-scopes'] = { ...(await ladder(h, group, 'many-scopes', manyScopes, (k) => counts[k], wave.ready)), connectFailed: wave.failed };
      } finally {
        await group.quit();
      }
    });
  }
  // many-scopes with server-side filters: per scope, even sockets unfiltered, four filtered to
  // status "failed", one watching message m0; events mix statuses and messages (pace.mjs mixOf).
  if (want('filtered')) {
    if (!peer.filters) (out.skipped ??= []).push(peer.notExpressible?.filtered ?? 'filtered (no server-side filters)');
    else
      await withServer('filtered', async (h) => {
        const S = manyScopes.length;
        const filterOf = (i) => {
          const j = Math.floor(i / S) % 10;
          if (j === 9) return '{"messageIds":["m0"]}';
          return j % 2 === 1 ? '{"statuses":["failed"]}' : '';
        };
        const clients = h.tailClients(manyScopes, N, (i) => (filterOf(i) ? `,"filter":${filterOf(i)}` : ''));
        const { group, wave } = await connectGroup(h, 'app', manyScopes, N, 'filtered connect', clients);
        try {
          const kinds = Array.from({ length: S }, () => ({ all: 0, failed: 0, m0: 0 }));
          for (let i = 0; i < N; i++) {
            const f = filterOf(i);
            kinds[i % S][f === '' ? 'all' : f.includes('failed') ? 'failed' : 'm0']++;
          }
          const fanout = (k, i = k) => {
            const { status, messageId } = mixOf(Math.floor(i / S));
            const c = kinds[k];
            return c.all + (status === 'failed' ? c.failed : 0) + (messageId === 'm0' ? c.m0 : 0);
          };
          let sum = 0;
          for (let i = 0; i < S * 8; i++) sum += fanout(i % S, i);
          const filtered = N - kinds.reduce((a, c) => a + c.all, 0);
          if (wave.failed) log(`  filtered: ${wave.failed} sockets failed to connect; they show as lost deliveries`);
          out.scenarios.filtered = {
            ...(await ladder(h, group, 'filtered', manyScopes, fanout, wave.ready, P99_LIMIT_US, sum / (S * 8))),
            filteredSockets: filtered,
            connectFailed: wave.failed,
          };
        } finally {
          await group.quit();
        }
      });
  }
  // Server-Sent Events (GET /v1/events/stream): the gateway's own HTTP transport, over the same
  // many scopes, beside its WebSocket many-scopes above; a Node client holds the streams.
  const sse = want('sse');
  if (sse && !peer.sse) (out.skipped ??= []).push(peer.notExpressible?.sse ?? 'sse (no SSE endpoint)');
  else if (sse) {
    await withServer('sse', async (h) => {
      const n = cfg.sseStreams;
      const keys = Array.from({ length: n }, (_, i) => ctx.keys.app[i % manyScopes.length].apiKey);
      const group = SseGroup.start({ port: h.port, keys });
      try {
        const wave = await group.waitReady(60000);
        log(`  sse connect: ${wave.ready}/${n} streams in ${wave.ms.toFixed(0)} ms, failed ${wave.failed}`);
        const counts = new Array(manyScopes.length).fill(0);
        for (let i = 0; i < n; i++) counts[i % manyScopes.length]++;
        out.scenarios.sse = { ...(await ladder(h, group, 'sse', manyScopes, (k) => counts[k], wave.ready)), streams: n, connectFailed: wave.failed };
      } finally {
        await group.quit();
      }
    });
  }
  if (want('admin-firehose')) {
    await withServer('admin-firehose', async (h) => {
      const { group, wave } = await connectGroup(h, 'admin', manyScopes.slice(0, 1), cfg.admins, 'admin-firehose connect');
      try {
        out.scenarios['admin-firehose'] = await ladder(h, group, 'admin-firehose', manyScopes, () => wave.ready, wave.ready);
      } finally {
        await group.quit();
      }
    });
  }
  return out;
}

// ---- main ----
buildLoadgen();
const dir = mkdtempSync(join(tmpdir(), 'bench-run-'));
const keys = makeKeys(manyScopes);
const ctx = { dir, keys, allowNpm: !quick || flag('install'), durable: flag('durable'), partitions: Number(opt('partitions', '4')) };
const result = {
  meta: {
    command: `node bench/run.mjs ${args.join(' ')}`.trim(),
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    versions: versions(),
    config: { ...cfg, p99LimitUs: P99_LIMIT_US, gatewayPath: ctx.durable ? 'durable (JetStream)' : 'direct (core NATS)' },
  },
  peers: {},
};
log(`bench ${quick ? 'quick' : 'full'}: ${cfg.sockets} sockets, peers ${peerNames.join(', ')}`);
try {
  for (const name of peerNames) {
    if (!PEERS[name]) {
      result.peers[name] = { status: 'could not run', reason: 'unknown peer' };
      continue;
    }
    if ((Date.now() - started) / 1000 > cfg.budgetS) {
      result.peers[name] = { status: 'could not run', reason: `skipped: time budget of ${cfg.budgetS} s used up` };
      log(`${name}: skipped, time budget used up`);
      continue;
    }
    log(`${name}: ${PEERS[name].describe}`);
    result.peers[name] = await runPeer(name, ctx);
  }
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
result.meta.durationSecs = Math.round((Date.now() - started) / 1000);
const resultsDir = join(benchDir, 'results');
mkdirSync(resultsDir, { recursive: true });
const files = writeReport(result, resultsDir, outName);
log(`wrote ${files.join(', ')}`);
const ran = Object.values(result.peers).filter((p) => p.status === 'ok').length;
process.exit(ran > 0 ? 0 : 1);

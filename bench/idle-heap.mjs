#!/usr/bin/env node
// Where an idle socket's bytes are (docs/bench.md, "Idle memory per socket"): one peer, the
// bench's own setup and load generator, N idle authenticated sockets on the hot scope, and the
// server's memory read at 0 and at N sockets by bench/lib/heap-hook.mjs: RSS before garbage
// collection (what the idle scenario sees), V8's committed pages per space, then the JS heap
// still used after a full collection (what the sockets really hold) and RSS after it.
//
//   node bench/idle-heap.mjs [--peer gateway|uws-ceiling] [--sockets 10000]
// Prints one JSON line, bytes per socket. Loopback only, random ports, bounded (120 s loadgen).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen, LoadgenGroup } from './lib/loadgen.mjs';
import { PEERS, makeKeys } from './lib/peers.mjs';
import { killAll, rssKb, sleep } from './lib/proc.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const peer = opt('peer', 'gateway');
const N = Number(opt('sockets', '10000'));
if (PEERS[peer] === undefined || !Number.isInteger(N) || N < 1 || N > 50000) {
  console.error('usage: node bench/idle-heap.mjs [--peer gateway|uws-ceiling] [--sockets 1..50000]');
  process.exit(2);
}
const hardStop = setTimeout(() => {
  console.error('idle-heap: over 180 s, stopping');
  killAll();
  process.exit(1);
}, 180_000);
hardStop.unref();

buildLoadgen();
const dir = mkdtempSync(join(tmpdir(), 'idle-heap-'));
const scopes = [['t0', 'a0']];
const ctx = { dir, keys: makeKeys(scopes), allowNpm: false, durable: false, partitions: 1 };
// The server processes the peer starts inherit this environment (bench/lib/proc.mjs).
const hook = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'heap-hook.mjs');
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${hook}`.trim();
process.env.HEAP_HOOK_OUT = join(dir, 'heap');

const h = await PEERS[peer].setup(ctx);
const pid = h.serverPids[0];
async function read() {
  const file = `${process.env.HEAP_HOOK_OUT}.${pid}.json`;
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(50);
  await sleep(100); // the file is written in one call; let it finish
  return JSON.parse(readFileSync(file, 'utf8'));
}
let result;
try {
  await sleep(300);
  const rss0 = rssKb([pid]);
  const m0 = await read();
  const group = LoadgenGroup.start({ port: h.port, path: h.path, sockets: N, concurrency: 512, label: 'idle-heap', maxSeconds: 120, ...h.clients('app', scopes) });
  try {
    const wave = await group.waitReady(60000);
    await sleep(500); // as the quick idle scenario
    const rss1 = rssKb([pid]);
    const m1 = await read();
    const per = (a, b) => Math.round((b - a) / Math.max(1, wave.ready));
    const perSpace = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, per(a[k] ?? 0, b[k])]).filter(([, v]) => v !== 0));
    result = {
      peer,
      sockets: wave.ready,
      rssNoGc: per(rss0 * 1024, rss1 * 1024),
      heapCommittedNoGc: perSpace(m0.committed, m1.committed),
      jsHeapUsedAfterGc: per(m0.heapUsed, m1.heapUsed),
      jsHeapUsedAfterGcBySpace: perSpace(m0.used, m1.used),
      rssAfterGc: per(m0.rss, m1.rss),
    };
  } finally {
    await group.quit();
  }
} finally {
  await h.teardown();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(0);

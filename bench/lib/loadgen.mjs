// Drives one or more loadgen processes (bench/loadgen/loadgen.c) as one group: each process gets
// a slice of the sockets, its own 8 source addresses (127.0.0.x) and key offset; their JSON lines
// are merged (counts summed, latency histograms merged, percentiles recomputed here).
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop } from './proc.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const loadgenBin = join(benchDir, '.build', 'loadgen');
const PER_PROCESS = 18000; // `ulimit -n` is 20 000 here

export function buildLoadgen() {
  const src = join(benchDir, 'loadgen', 'loadgen.c');
  mkdirSync(dirname(loadgenBin), { recursive: true });
  let fresh = false;
  try {
    fresh = statSync(loadgenBin).mtimeMs >= statSync(src).mtimeMs;
  } catch {}
  if (!fresh) execFileSync('gcc', ['-O2', '-Wall', '-o', loadgenBin, src], { stdio: 'inherit' });
  return loadgenBin;
}

function lineQueue(stream) {
  const buffered = [];
  const waiters = [];
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const i = waiters.findIndex((w) => w.kind === msg.kind);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else buffered.push(msg);
  });
  return {
    next(kind, timeoutMs, child) {
      const i = buffered.findIndex((m) => m.kind === kind);
      if (i >= 0) return Promise.resolve(buffered.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const w = { kind, resolve };
        waiters.push(w);
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`loadgen: no "${kind}" line within ${timeoutMs} ms: ${child.tail.slice(-800)}`));
        }, timeoutMs);
        const done = w.resolve;
        w.resolve = (m) => {
          clearTimeout(t);
          done(m);
        };
        child.exited.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`loadgen exited: ${child.tail.slice(-800)}`));
          }
        });
      });
    },
  };
}

export function bucketMid(low) {
  if (low < 128) return low;
  const shift = Math.floor(Math.log2(low)) - 6;
  return low + 2 ** shift / 2;
}

export function percentilesOf(hist, max) {
  const total = hist.reduce((a, [, c]) => a + c, 0);
  const at = (p) => {
    if (!total) return null;
    const want = Math.max(1, Math.ceil(p * total));
    let acc = 0;
    for (const [low, c] of hist) {
      acc += c;
      if (acc >= want) return Math.min(bucketMid(low), max);
    }
    return max;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: total ? max : null };
}

function mergeMarks(marks) {
  const out = { frames: 0, bytes: 0, events: 0, sampled: 0, bad_ts: 0, app_pings: 0, secs: 0, types: {}, errors: {}, close_codes: {} };
  const hist = new Map();
  let max = 0;
  for (const m of marks) {
    for (const k of ['frames', 'bytes', 'events', 'sampled', 'bad_ts', 'app_pings']) out[k] += m[k] ?? 0;
    out.secs = Math.max(out.secs, m.secs);
    for (const [t, c] of Object.entries(m.types)) out.types[t] = (out.types[t] ?? 0) + c;
    for (const [t, c] of Object.entries(m.errors ?? {})) out.errors[t] = (out.errors[t] ?? 0) + c;
    for (const [t, c] of Object.entries(m.close_codes ?? {})) out.close_codes[t] = (out.close_codes[t] ?? 0) + c;
    for (const [low, c] of m.hist) hist.set(low, (hist.get(low) ?? 0) + c);
    max = Math.max(max, m.latency_us.max);
  }
  out.hist = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  out.latency_us = percentilesOf(out.hist, max);
  return out;
}

export class LoadgenGroup {
  constructor(procs, sockets) {
    this.procs = procs;
    this.sockets = sockets;
  }

  /**
   * opts: port, path, sockets, keysFile, auth, authAfterFirst, ready, fail, typeKey, marker,
   * concurrency, maxSeconds, label, binary, appPing (an application-level ping text answered with itself)
   */
  static start(opts) {
    const nproc = Math.ceil(opts.sockets / PER_PROCESS);
    const procs = [];
    let offset = 0;
    for (let p = 0; p < nproc; p++) {
      const n = Math.floor(opts.sockets / nproc) + (p < opts.sockets % nproc ? 1 : 0);
      const args = ['--port', String(opts.port), '--path', opts.path ?? '/ws', '-n', String(n)];
      args.push('--src-base', String(2 + p * 8), '--src-count', '8', '--key-offset', String(offset));
      args.push('--label', `${opts.label ?? 'lg'}#${p}`);
      if (opts.keysFile) args.push('--keys', opts.keysFile);
      if (opts.auth !== undefined) args.push('--auth', opts.auth);
      if (opts.authAfterFirst) args.push('--auth-after-first');
      if (opts.binary) args.push('--binary');
      if (opts.ready !== undefined) args.push('--ready', opts.ready);
      if (opts.fail !== undefined) args.push('--fail', opts.fail);
      if (opts.typeKey !== undefined) args.push('--type-key', opts.typeKey);
      if (opts.marker) args.push('--marker', opts.marker);
      if (opts.appPing) args.push('--app-ping', opts.appPing);
      args.push('--concurrency', String(Math.ceil((opts.concurrency ?? 512) / nproc)));
      args.push('--max-seconds', String(opts.maxSeconds ?? 300));
      const child = start(loadgenBin, args, { stdin: 'pipe', keepStdout: true });
      procs.push({ child, q: lineQueue(child.stdout), offset, n });
      offset += n;
    }
    return new LoadgenGroup(procs, opts.sockets);
  }

  get pids() {
    return this.procs.map((p) => p.child.pid);
  }

  send(cmd) {
    for (const p of this.procs) p.child.stdin.write(`${cmd}\n`);
  }

  async #all(cmd, kind, timeoutMs) {
    if (cmd) this.send(cmd);
    return Promise.all(this.procs.map((p) => p.q.next(kind, timeoutMs, p.child)));
  }

  #wave(lines) {
    const ready = lines.reduce((a, l) => a + l.ready, 0);
    const failed = lines.reduce((a, l) => a + l.failed, 0);
    const ms = Math.max(...lines.map((l) => l.ms));
    const errors = {};
    for (const l of lines) for (const [k, v] of Object.entries(l.errors)) errors[k] = (errors[k] ?? 0) + v;
    return { sockets: this.sockets, ready, failed, ms, rate: ms > 0 ? (ready * 1000) / ms : 0, errors };
  }

  async waitReady(timeoutMs = 60000) {
    return this.#wave(await this.#all(null, 'ready', timeoutMs));
  }

  async reconnect(timeoutMs = 60000) {
    return this.#wave(await this.#all('reconnect', 'ready', timeoutMs));
  }

  async mark() {
    return mergeMarks(await this.#all('mark', 'mark', 10000));
  }

  async count() {
    const lines = await this.#all('count', 'count', 10000);
    return {
      events: lines.reduce((a, l) => a + l.events, 0),
      closed: lines.reduce((a, l) => a + l.closed_after_ready, 0),
    };
  }

  async quit() {
    try {
      const lines = await this.#all('quit', 'final', 5000);
      return mergeMarks(lines);
    } catch {
      return null;
    } finally {
      await Promise.all(this.procs.map((p) => stop(p.child, 500)));
    }
  }
}

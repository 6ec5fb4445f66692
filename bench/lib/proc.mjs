// Child processes of the bench: each in its own process group, all killed on exit or signal.
// CPU and memory read from /proc (user+sys jiffies of a process and its descendants, VmRSS).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';

const children = new Set();
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64

export function killAll() {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Spawns a command in its own process group; stdout/stderr tail kept for error reports. */
export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    detached: true,
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
  });
  children.add(child);
  child.tail = '';
  const keep = (d) => {
    child.tail = (child.tail + d.toString()).slice(-4000);
  };
  child.stderr.on('data', keep);
  if (!opts.keepStdout) child.stdout.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  child.on('exit', () => children.delete(child));
  child.on('error', (e) => keep(`spawn error: ${e.message}\n`));
  return child;
}

/** Kills a child's process group, waits for it to be gone (bounded). */
export async function stop(child, graceMs = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  await child.exited;
  clearTimeout(t);
  try {
    process.kill(-child.pid, 'SIGKILL'); // leftovers of the group
  } catch {}
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn() is truthy; throws with `what` after timeoutMs. */
export async function waitFor(fn, timeoutMs, what, child) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${what}: process exited (${child.exitCode ?? child.signalCode}): ${child.tail.slice(-1500)}`);
    try {
      if (await fn()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs} ms${child ? `: ${child.tail.slice(-1500)}` : ''}`);
    await sleep(50);
  }
}

export function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export function httpStatus(port, path) {
  return httpRequest(port, 'GET', path).then((r) => r.status);
}

export function httpRequest(port, method, path, body, timeoutMs = 120000) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, timeout: timeoutMs }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// ---- /proc accounting ----
function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]), userTicks: Number(rest[11]) };
  } catch {
    return null;
  }
}

/** The pid and all its live descendants. */
export function tree(pid) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statOf(d);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(Number(d));
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return out;
}

/** CPU ms (user+sys) used so far by these pids and their descendants. */
export function cpuMs(pids) {
  let ticks = 0;
  for (const root of pids) for (const p of tree(root)) ticks += statOf(p)?.cpuTicks ?? 0;
  return (ticks * 1000) / CLK_TCK;
}

/** User-space CPU ms only (the rest of cpuMs is kernel time: syscalls, and on loopback the receiver's TCP path too). */
export function userCpuMs(pids) {
  let ticks = 0;
  for (const root of pids) for (const p of tree(root)) ticks += statOf(p)?.userTicks ?? 0;
  return (ticks * 1000) / CLK_TCK;
}

export function rssKb(pids) {
  let kb = 0;
  for (const root of pids)
    for (const p of tree(root)) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
        if (m) kb += Number(m[1]);
      } catch {}
    }
  return kb;
}

/** Kernel memory that grows with sockets: slab (kB) and TCP buffer pages from sockstat. */
export function kernelMem() {
  const mi = readFileSync('/proc/meminfo', 'utf8');
  const slab = Number(/^Slab:\s+(\d+)/m.exec(mi)?.[1] ?? 0);
  const ss = readFileSync('/proc/net/sockstat', 'utf8');
  const tcpPages = Number(/TCP:.* mem (\d+)/.exec(ss)?.[1] ?? 0);
  const tcpInuse = Number(/TCP: inuse (\d+)/.exec(ss)?.[1] ?? 0);
  return { slabKb: slab, tcpMemKb: tcpPages * 4, tcpInuse };
}

#!/usr/bin/env node
/**
 * Capacity model of a gateway fleet (docs/scaling.md): how many nodes and NATS servers for
 * N sockets, T tenants and E events/s, under random and tenant-affinity routing, and what
 * saturates first. No dependencies; rerun it with your own tenant distribution:
 *
 *   node bench/capacity-model.mjs --sockets 2000000 --tenants 10000 --zipf 1 --events 1000,10000,100000
 *   node bench/capacity-model.mjs --input my-tenants.json     # {"sizes":[...], "events":[...], ...}
 *   node bench/capacity-model.mjs --help
 *
 * The model, as the code behaves (src/scope/scope.ts, src/bus/feed-registry.ts):
 * - A node subscribes `sms.<t>.<a>.*` and `sms.<t>._.*` once per app scope it serves, and `sms.>`
 *   while it holds an admin socket. NATS delivers an event once per matching subscription, so
 *   the NATS deliveries per event (the amplification) is the number of nodes holding its feed,
 *   plus the nodes holding an admin socket.
 * - Workload: tenant sizes follow a rank-size law (Zipf, exponent s) unless given; a tenant has
 *   1 + floor(log10(size)) apps (at most 5) sharing its sockets evenly; events are proportional
 *   to tenant size, a share of them tenant-wide (app token `_`), the rest per app by sockets.
 * - Node CPU (one core per node, planned to `cpuTarget`):
 *     usPerNatsMsg x NATS messages in + usPerWrite x socket writes + usPerDelivery x deliveries,
 *   where a socket's writes are its deliveries merged to at most `maxWritesPerSocket` per second.
 *   usPerWrite and usPerDelivery come from bench/results/latest.json when present (see
 *   benchFigures); usPerNatsMsg is an assumption (10 us). Memory per socket: user-space RSS plus
 *   the kernel's socket, from the same run.
 * - Routing: `random` (today: any node, closed forms, expected values) and `affinity` (the
 *   production load balancer: consistent hash of `tenant` or `tenant:slot` with bounded load
 *   `balanceFactor`, simulated socket by socket; big tenants get k slots so no slot costs more
 *   than `slotShare` of a node's CPU budget; admin sockets on their own pool).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Figures used when bench/results/latest.json is absent; the sources are in docs/scaling.md. */
export const DEFAULTS = Object.freeze({
  sockets: 2_000_000,
  tenants: 10_000,
  zipf: 1,
  events: [1000, 10_000, 100_000],
  adminSockets: 20,
  tenantWideShare: 0.05,
  maxApps: 5,
  usPerNatsMsg: 10,
  usPerWrite: 11.8,
  usPerDelivery: 0.5,
  maxWritesPerSocket: 10,
  cpuTarget: 0.7,
  bytesPerSocket: 1800 + 5000,
  nodeMemoryBytes: 1.5 * 2 ** 30,
  natsMsgsPerServer: 1_000_000,
  natsMinServers: 3,
  streamLeaderMaxEvents: 150_000,
  balanceFactor: 1.25,
  slotShare: 0.01,
  maxNodes: 5000,
  /** Sockets placed per simulated arrival (1 = exact; larger is faster on millions of sockets). */
  chunk: 0,
  seed: 1,
});

/**
 * CPU and memory figures from a bench run (bench/run.mjs), as marginal costs between the lowest
 * and highest passing steps so the idle cost of the machine cancels out:
 * - usPerWrite: many-scopes (10 sockets per scope, no two frames of a socket merged): CPU per
 *   delivery, each one a write of its own (server process + nats-server);
 * - usPerDelivery: admin-firehose (100 sockets take every event: uWS merges a socket's frames
 *   into few writes): CPU per delivery once writes are merged;
 * - bytesPerSocket: idle RSS per socket plus the server's half of the kernel's socket memory.
 */
export function benchFigures(results) {
  const scenarios = results?.peers?.gateway?.scenarios;
  if (scenarios === undefined) return {};
  const slope = (name) => {
    const steps = (scenarios[name]?.steps ?? []).filter((s) => s.pass && s.received > 0 && s.serverCpuMs > 0);
    if (steps.length < 2) return undefined;
    const [lo, hi] = [steps[0], steps[steps.length - 1]];
    const us = ((hi.serverCpuMs - lo.serverCpuMs) * 1000) / (hi.received - lo.received);
    return us > 0 ? Math.round(us * 1000) / 1000 : undefined;
  };
  const idle = scenarios.idle;
  const out = {};
  const w = slope("many-scopes");
  const d = slope("admin-firehose");
  if (w !== undefined) out.usPerWrite = w;
  if (d !== undefined) out.usPerDelivery = d;
  if (idle?.rssBytesPerSocket > 0) {
    const kernel = ((idle.kernelSlabBytesPerSocketPair ?? 0) + (idle.kernelTcpBufBytesPerSocketPair ?? 0)) / 2;
    out.bytesPerSocket = Math.round(idle.rssBytesPerSocket + kernel);
  }
  return out;
}

// ---- workload ------------------------------------------------------------------------------------

/** Tenant sizes for a rank-size law: size_i proportional to 1 / i^s, summing to `sockets`, each >= 1. */
export function zipfSizes(sockets, tenants, s) {
  const weights = Array.from({ length: tenants }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => Math.max(1, Math.round((sockets * w) / total)));
}

/** Sockets of each app of a tenant: 1 + floor(log10(size)) apps (at most maxApps), split evenly. */
function appsOf(size, maxApps, appsPerTenant) {
  const n = Math.max(1, Math.min(size, appsPerTenant ?? Math.min(maxApps, 1 + Math.floor(Math.log10(size)))));
  return Array.from({ length: n }, (_, i) => Math.floor(size / n) + (i < size % n ? 1 : 0));
}

/**
 * Tenants with their feeds and rates at E events/s. A feed is one NATS subscription subject: each
 * app's `sms.t.a.*` (rate: its app events) and the tenant's `sms.t._.*` (tenant-wide events).
 */
export function workload(p, events) {
  const total = p.sizes.reduce((a, b) => a + b, 0);
  return p.sizes.map((size, t) => {
    const rate = (events * size) / total;
    const wide = rate * p.tenantWideShare;
    const apps = appsOf(size, p.maxApps, p.appsPerTenant).map((sockets) => ({ sockets, rate: ((rate - wide) * sockets) / size }));
    return { id: t, size, rate, wide, apps };
  });
}

// ---- per-node cost -------------------------------------------------------------------------------

/** CPU microseconds per second of a socket receiving `rate` events/s. */
function socketCost(p, rate) {
  return p.usPerWrite * Math.min(rate, p.maxWritesPerSocket) + p.usPerDelivery * rate;
}

function nodeCpu(p, load) {
  const ingest = p.usPerNatsMsg * load.msgsIn;
  const sockets = load.socketUs;
  return { cpu: (ingest + sockets) / 1e6, ingest: ingest / 1e6, sockets: sockets / 1e6 };
}

// ---- random routing: closed forms (expected values) ------------------------------------------

/** Probability that a node out of n holds at least one of k sockets placed uniformly. */
const held = (n, k) => 1 - (1 - 1 / n) ** k;

export function randomFleet(p, tenants, events, n) {
  let feedsPerNode = 0;
  let msgsPerNode = 0;
  let socketUs = 0;
  let deliveries = 0;
  let sockets = 0;
  for (const t of tenants) {
    const ph = held(n, t.size);
    feedsPerNode += ph;
    msgsPerNode += t.wide * ph;
    for (const a of t.apps) {
      const pa = held(n, a.sockets);
      feedsPerNode += pa;
      msgsPerNode += a.rate * pa;
      const r = a.rate + t.wide;
      socketUs += a.sockets * socketCost(p, r);
      deliveries += a.sockets * r;
      sockets += a.sockets;
    }
  }
  const adminNodes = p.adminSockets > 0 ? n * held(n, p.adminSockets) : 0;
  // The busiest node holds an admin socket (when there is one): it ingests every event.
  const adminPerNode = p.adminSockets > 0 ? Math.max(1, p.adminSockets / n) : 0;
  const worst = {
    msgsIn: msgsPerNode + (adminPerNode > 0 ? events : 0),
    socketUs: socketUs / n + adminPerNode * socketCost(p, events),
  };
  const amplification = (n * msgsPerNode) / events + adminNodes;
  return {
    nodes: n,
    adminNodes: Math.round(adminNodes * 10) / 10,
    amplification,
    subsPerNode: feedsPerNode + (adminPerNode > 0 ? 1 : 0),
    subsCluster: n * feedsPerNode + adminNodes,
    ingestPerNode: worst.msgsIn,
    socketsPerNode: (sockets + p.adminSockets) / n,
    deliveriesPerEvent: (deliveries + p.adminSockets * events) / events,
    ...nodeCpu(p, worst),
  };
}

// ---- affinity routing: bounded-load consistent hashing, simulated ---------------------------

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POINTS = 100;

/** A ring of n nodes; for each key, the clockwise order of distinct nodes, discovered lazily. */
class Ring {
  constructor(n) {
    this.n = n;
    const pts = [];
    for (let b = 0; b < n; b++) for (let v = 0; v < POINTS; v++) pts.push([fnv1a(`node-${b}#${v}`), b]);
    pts.sort((x, y) => x[0] - y[0]);
    this.hashes = Uint32Array.from(pts.map((x) => x[0]));
    this.nodes = Uint32Array.from(pts.map((x) => x[1]));
    this.walks = new Map();
  }

  /** The i-th distinct node clockwise from the key's hash. */
  nth(key, i) {
    let w = this.walks.get(key);
    if (w === undefined) {
      const h = fnv1a(key);
      let lo = 0;
      let hi = this.hashes.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.hashes[mid] < h) lo = mid + 1;
        else hi = mid;
      }
      w = { at: lo, order: [], seen: new Set() };
      this.walks.set(key, w);
    }
    while (w.order.length <= i && w.seen.size < this.n) {
      const b = this.nodes[w.at % this.nodes.length];
      w.at++;
      if (!w.seen.has(b)) {
        w.seen.add(b);
        w.order.push(b);
      }
    }
    return w.order[Math.min(i, w.order.length - 1)];
  }
}

/** Slots per tenant: enough that no slot costs more than slotShare of a node's CPU budget. */
export function slotsOf(p, t) {
  const budgetUs = p.cpuTarget * 1e6 * p.slotShare;
  const cost = t.apps.reduce((sum, a) => sum + a.sockets * socketCost(p, a.rate + t.wide), 0);
  return Math.max(1, Math.min(t.size, Math.ceil(cost / budgetUs)));
}

export function affinityFleet(p, tenants, events, n) {
  const random = mulberry32(p.seed);
  const ring = new Ring(n);
  const total = tenants.reduce((s, t) => s + t.size, 0);
  const chunk = p.chunk > 0 ? p.chunk : Math.max(1, Math.ceil(total / 200_000));
  // Arrivals: chunks of one app's sockets, each with its hash key, in random order.
  const arrivals = [];
  for (const t of tenants) {
    const k = slotsOf(p, t);
    t.slots = k;
    t.apps.forEach((a, ai) => {
      for (let left = a.sockets; left > 0; left -= chunk) arrivals.push({ t, ai, count: Math.min(chunk, left), slot: Math.floor(random() * k) });
    });
  }
  for (let i = arrivals.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [arrivals[i], arrivals[j]] = [arrivals[j], arrivals[i]];
  }
  const load = new Float64Array(n);
  const socketUs = new Float64Array(n);
  const feeds = Array.from({ length: n }, () => new Map()); // feed key -> rate
  let placed = 0;
  for (const a of arrivals) {
    const key = a.t.slots > 1 ? `${a.t.id}:${a.slot}` : String(a.t.id);
    const cap = Math.ceil((p.balanceFactor * (placed + a.count)) / n);
    let node = ring.nth(key, 0);
    for (let i = 1; load[node] + a.count > cap && i < n; i++) node = ring.nth(key, i);
    load[node] += a.count;
    placed += a.count;
    const app = a.t.apps[a.ai];
    socketUs[node] += a.count * socketCost(p, app.rate + a.t.wide);
    feeds[node].set(`${a.t.id}.${a.ai}`, app.rate);
    feeds[node].set(`${a.t.id}._`, a.t.wide);
  }
  let worst = { cpu: -1 };
  let subs = 0;
  let msgs = 0;
  let maxSubs = 0;
  let maxIngest = 0;
  for (let b = 0; b < n; b++) {
    let msgsIn = 0;
    for (const r of feeds[b].values()) msgsIn += r;
    subs += feeds[b].size;
    msgs += msgsIn;
    maxSubs = Math.max(maxSubs, feeds[b].size);
    maxIngest = Math.max(maxIngest, msgsIn);
    const c = nodeCpu(p, { msgsIn, socketUs: socketUs[b] });
    if (c.cpu > worst.cpu) worst = c;
  }
  const deliveries = tenants.reduce((s, t) => s + t.apps.reduce((x, a) => x + a.sockets * (a.rate + t.wide), 0), 0);
  return {
    nodes: n,
    amplification: msgs / events,
    subsPerNode: maxSubs,
    subsCluster: subs,
    ingestPerNode: maxIngest,
    socketsPerNode: Math.max(...load),
    deliveriesPerEvent: (deliveries + p.adminSockets * events) / events,
    bigTenants: tenants.filter((t) => t.slots > 1).length,
    maxSlots: Math.max(...tenants.map((t) => t.slots)),
    ...worst,
  };
}

/** The admin pool: each node ingests every event; sockets per node limited by what is left. */
export function adminPool(p, events) {
  if (p.adminSockets === 0) return { nodes: 0, feasible: true };
  const left = p.cpuTarget * 1e6 - p.usPerNatsMsg * events;
  if (left <= 0) return { nodes: Infinity, feasible: false, ingest: (p.usPerNatsMsg * events) / 1e6 };
  const perNode = Math.max(0, Math.floor(left / socketCost(p, events)));
  if (perNode === 0) return { nodes: Infinity, feasible: false, ingest: (p.usPerNatsMsg * events) / 1e6 };
  return { nodes: Math.ceil(p.adminSockets / perNode), feasible: true, socketsPerNode: perNode, ingest: (p.usPerNatsMsg * events) / 1e6 };
}

// ---- sizing ------------------------------------------------------------------------------------

function fits(p, r) {
  return r.cpu <= p.cpuTarget && r.socketsPerNode * p.bytesPerSocket <= p.nodeMemoryBytes;
}

/** Smallest node count that fits (CPU and memory of the busiest node), or undefined within maxNodes. */
function smallestFleet(p, evaluate, lowerBound) {
  let lo = Math.max(1, lowerBound);
  let r = evaluate(lo);
  if (fits(p, r)) return r;
  let hi = lo;
  while (!fits(p, r)) {
    lo = hi;
    if (hi >= p.maxNodes) return undefined;
    hi = Math.min(p.maxNodes, hi * 2);
    r = evaluate(hi);
  }
  let best = r;
  while (hi - lo > Math.max(1, Math.floor(lo / 50))) {
    const mid = Math.floor((lo + hi) / 2);
    const m = evaluate(mid);
    if (fits(p, m)) {
      hi = mid;
      best = m;
    } else lo = mid;
  }
  return best;
}

/** What binds first: the term that makes the busiest node full, and the walls ahead. */
function bottleneck(p, fleet, events, routing) {
  if (fleet === undefined) {
    return routing === "random" && p.adminSockets > 0 && p.usPerNatsMsg * events >= p.cpuTarget * 1e6
      ? "admin firehose: a node with an admin socket ingests every event"
      : "node CPU: no fleet within maxNodes (NATS ingest per node does not shrink with more nodes)";
  }
  const memory = (fleet.socketsPerNode * p.bytesPerSocket) / p.nodeMemoryBytes;
  const cpu = fleet.cpu / p.cpuTarget;
  if (memory >= cpu) return "node memory (sockets per node)";
  return fleet.ingest > fleet.sockets ? "node CPU: NATS messages in" : "node CPU: socket writes";
}

/** The model for one event rate and one routing: the core function the unit test checks. */
export function plan(input, events, routing) {
  const p = { ...DEFAULTS, ...input };
  const tenants = workload(p, events);
  const sockets = tenants.reduce((s, t) => s + t.size, 0) + p.adminSockets;
  const work = tenants.reduce((s, t) => s + t.apps.reduce((x, a) => x + a.sockets * socketCost(p, a.rate + t.wide), 0), 0);
  const lower = Math.max(1, Math.ceil(work / (p.cpuTarget * 1e6)), Math.ceil((sockets * p.bytesPerSocket) / p.nodeMemoryBytes));
  const admin = routing === "affinity" ? adminPool(p, events) : undefined;
  const appInput = routing === "affinity" ? { ...p, adminSockets: 0 } : p;
  const evaluate = (n) => (routing === "random" ? randomFleet(appInput, tenants, events, n) : affinityFleet(appInput, tenants, events, n));
  const fleet = smallestFleet(appInput, evaluate, lower);
  // An admin pool that cannot ingest every event is reported as a wall; the app fleet is sized anyway.
  const adminNodes = admin === undefined ? 0 : admin.feasible ? admin.nodes : Infinity;
  const adminAmplification = routing === "affinity" && Number.isFinite(adminNodes) ? adminNodes : 0;
  const amplification = fleet === undefined ? undefined : fleet.amplification + adminAmplification;
  const egress = amplification === undefined ? undefined : amplification * events;
  return {
    routing,
    events,
    sockets,
    deliveriesPerEvent: tenants.reduce((s, t) => s + t.apps.reduce((x, a) => x + a.sockets * (a.rate + t.wide), 0), 0) / events + p.adminSockets,
    nodes: fleet?.nodes,
    adminNodes: routing === "affinity" ? adminNodes : fleet?.adminNodes,
    amplification,
    natsEgress: egress,
    natsServers: egress === undefined ? undefined : Math.max(p.natsMinServers, Math.ceil(egress / p.natsMsgsPerServer)),
    subsPerNode: fleet?.subsPerNode,
    subsCluster: fleet === undefined ? undefined : fleet.subsCluster + adminAmplification,
    ingestPerNode: fleet?.ingestPerNode,
    socketsPerNode: fleet?.socketsPerNode,
    cpuPerNode: fleet?.cpu,
    bigTenants: fleet?.bigTenants,
    maxSlots: fleet?.maxSlots,
    bottleneck:
      admin !== undefined && !admin.feasible
        ? `admin firehose (an admin-pool node cannot ingest every event); app pool: ${bottleneck(appInput, fleet, events, routing)}`
        : bottleneck(appInput, fleet, events, routing),
    streamLeader: events > p.streamLeaderMaxEvents ? `over the stream leader's ${p.streamLeaderMaxEvents} ev/s (R3): partition SMS_EVENTS` : "ok",
  };
}

// ---- CLI -----------------------------------------------------------------------------------------

const HELP = `node bench/capacity-model.mjs [options]

Workload (defaults: the research scenario)
  --sockets N            total app sockets (${DEFAULTS.sockets})
  --tenants T            tenants (${DEFAULTS.tenants})
  --zipf S               rank-size exponent of tenant sizes (${DEFAULTS.zipf})
  --sizes a,b,c          explicit sockets per tenant (overrides the three above)
  --events E1,E2,...     events/s to plan for (${DEFAULTS.events.join(",")})
  --apps-per-tenant K    apps per tenant (default 1 + floor(log10(size)), at most ${DEFAULTS.maxApps})
  --admin-sockets A      admin sockets (${DEFAULTS.adminSockets})
  --tenant-wide-share F  share of events that are tenant-wide (${DEFAULTS.tenantWideShare})
Node and NATS figures (defaults from bench/results/latest.json when present)
  --us-per-nats-msg U  --us-per-write U  --us-per-delivery U  --max-writes-per-socket W
  --cpu-target F (${DEFAULTS.cpuTarget})  --bytes-per-socket B  --node-memory-bytes B (${DEFAULTS.nodeMemoryBytes})
  --nats-msgs-per-server M (${DEFAULTS.natsMsgsPerServer})  --stream-leader-max-events M (${DEFAULTS.streamLeaderMaxEvents})
  --balance-factor F (${DEFAULTS.balanceFactor})  --slot-share F (${DEFAULTS.slotShare})  --max-nodes N (${DEFAULTS.maxNodes})
Other
  --routing random,affinity   --input FILE.json (same names in camelCase)   --json   --results FILE (bench results to read)
`;

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "--json") {
      out.json = true;
      continue;
    }
    if (!arg.startsWith("--") || i + 1 >= argv.length) throw new Error(`unexpected argument ${arg} (see --help)`);
    const name = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    out[name] = argv[++i];
  }
  return out;
}

const LISTS = new Set(["events", "sizes", "routing"]);

function numeric(name, raw) {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number >= 0, got ${raw}`);
  return v;
}

export function resolveInput(args) {
  const fromFile = args.input ? JSON.parse(readFileSync(args.input, "utf8")) : {};
  const resultsFile = args.results ?? resolve(HERE, "results/latest.json");
  const bench = existsSync(resultsFile) ? benchFigures(JSON.parse(readFileSync(resultsFile, "utf8"))) : {};
  const p = { ...DEFAULTS, ...bench, ...fromFile };
  for (const [k, raw] of Object.entries(args)) {
    if (["input", "results", "json", "help"].includes(k)) continue;
    if (!(k in DEFAULTS) && !LISTS.has(k) && k !== "appsPerTenant") throw new Error(`unknown option --${k} (see --help)`);
    p[k] = LISTS.has(k) ? String(raw).split(",").map((x) => (k === "routing" ? x.trim() : numeric(k, x))) : numeric(k, raw);
  }
  if (p.sizes === undefined) p.sizes = zipfSizes(p.sockets, p.tenants, p.zipf);
  p.routing ??= ["random", "affinity"];
  p.benchSource = Object.keys(bench).length > 0 ? resultsFile : undefined;
  p.bench = bench;
  return p;
}

const fmt = (v, digits = 0) => {
  if (v === undefined) return "none";
  if (!Number.isFinite(v)) return "∞";
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(digits);
};

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const p = resolveInput(args);
  const rows = [];
  for (const events of p.events) for (const routing of p.routing) rows.push(plan(p, events, routing));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ input: { ...p, sizes: p.sizes.length > 50 ? `${p.sizes.length} tenants` : p.sizes }, rows }, null, 2)}\n`);
    return;
  }
  const sorted = [...p.sizes].sort((a, b) => b - a);
  const total = sorted.reduce((a, b) => a + b, 0);
  console.log(`Workload: ${fmt(total)} app sockets, ${sorted.length} tenants (largest ${fmt(sorted[0])}, median ${fmt(sorted[Math.floor(sorted.length / 2)])}), ${p.adminSockets} admin sockets`);
  console.log(
    `Node: ${p.usPerNatsMsg} us/NATS msg, ${p.usPerWrite} us/write, ${p.usPerDelivery} us/delivery, <= ${p.maxWritesPerSocket} writes/s/socket, ` +
      `${Math.round(p.cpuTarget * 100)}% of a core, ${fmt(p.bytesPerSocket)} B/socket, ${fmt(p.nodeMemoryBytes)} B/node` +
      (p.benchSource ? ` (bench: ${Object.keys(p.bench).join(", ")} from ${relative(process.cwd(), p.benchSource)})` : " (documented defaults)"),
  );
  console.log("");
  console.log("| ev/s | routing | nodes (+admin) | NATS deliveries/event | NATS egress msgs/s | NATS servers | subs/node | subs cluster | ingest/node msgs/s | sockets/node | first bottleneck | stream |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
  for (const r of rows) {
    const nodes = r.nodes === undefined ? "none" : `${r.nodes}${r.routing === "affinity" && r.adminNodes ? ` (+${fmt(r.adminNodes)} admin)` : ""}`;
    console.log(
      `| ${fmt(r.events)} | ${r.routing} | ${nodes} | ${fmt(r.amplification, 1)} | ${fmt(r.natsEgress)} | ${r.natsServers ?? "none"} | ` +
        `${fmt(r.subsPerNode)} | ${fmt(r.subsCluster)} | ${fmt(r.ingestPerNode)} | ${fmt(r.socketsPerNode)} | ${r.bottleneck} | ${r.streamLeader} |`,
    );
  }
  const d = rows[0];
  if (d !== undefined) console.log(`\nSocket deliveries per event (any routing): ${fmt(d.deliveriesPerEvent)}.`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main();
  } catch (err) {
    console.error(`capacity-model: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}

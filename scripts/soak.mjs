#!/usr/bin/env node
// npm run soak: a bounded soak of one gateway node (a real `sms-ws serve` process) fed by its own
// nats-server, everything on 127.0.0.1. Thousands of sockets over many scopes, ~1% of them closed
// and reopened (new connection + auth) every second, a steady producer on the durable path. Every
// 10 s it samples the node's RSS (/proc/<pid>/status), event-loop lag, active handles and
// connections (its /metrics). At the end every socket closes and the node must return to its
// baseline. A leak (RSS still growing after warm-up, connections or handles not released), a
// stalled event loop or a crash makes it exit 1. See docs/soak.md.
//
//   node scripts/soak.mjs [--minutes 10] [--sockets 3000] [--rate 200] [--churn 0.01]
//                         [--scopes 100] [--sample-s 10] [--max-rss-slope 5] [--record]
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(join(root, "dist/cli/main.js"))) {
  console.error("dist/ is missing: run `npm run build` first (npm run soak does it for you)");
  process.exit(2);
}
const { startNatsServer, freePort } = await import(join(root, "dist/dev/embedded-nats.js"));
const { createKey } = await import(join(root, "dist/keys/key-admin.js"));
const { publishEvent } = await import(join(root, "dist/publisher/index.js"));
const { connect } = await import("@nats-io/transport-node");
const { Kvm } = await import("@nats-io/kv");
const { default: WebSocket } = await import("ws");

const { values: flags } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    sockets: { type: "string", default: "3000" },
    rate: { type: "string", default: "200" },
    churn: { type: "string", default: "0.01" },
    scopes: { type: "string", default: "100" },
    "sample-s": { type: "string", default: "10" },
    "max-rss-slope": { type: "string", default: "5" },
    "max-lag-ms": { type: "string", default: "1000" },
    "handle-slack": { type: "string", default: "5" },
    record: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 12).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
  process.exit(0);
}
const num = (name, min) => {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`--${name} must be a number >= ${min} (got ${flags[name]})`);
    process.exit(2);
  }
  return v;
};
const MINUTES = num("minutes", 0.5);
const SOCKETS = Math.floor(num("sockets", 1));
const RATE = num("rate", 0);
const CHURN = num("churn", 0);
const SCOPES = Math.floor(num("scopes", 1));
const SAMPLE_MS = num("sample-s", 1) * 1000;
const MAX_RSS_SLOPE = num("max-rss-slope", 0); // MB per minute
const MAX_LAG_MS = num("max-lag-ms", 1);
const HANDLE_SLACK = num("handle-slack", 0);
const WARMUP_FRACTION = 0.5; // the RSS trend is judged on the second half of the steady phase

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- cleanup: everything we start is stopped on exit, on SIGINT/SIGTERM and on a hard deadline --
let nats;
let node;
let producer;
const sockets = new Set();
let cleaning;
async function cleanup() {
  cleaning ??= (async () => {
    for (const s of sockets) s.ws.terminate();
    sockets.clear();
    if (node && node.exitCode === null && node.signalCode === null) {
      node.kill("SIGCONT");
      node.kill("SIGTERM");
      const exited = new Promise((r) => node.once("exit", r));
      const t = setTimeout(() => node.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    await producer?.close().catch(() => {});
    await nats?.stop().catch(() => {});
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}
process.once("exit", () => {
  if (node && node.exitCode === null) node.kill("SIGKILL");
});
// Bounded whatever happens: the run plus set-up and tear-down allowances.
const hardDeadline = setTimeout(() => {
  console.error("soak: hard deadline passed; stopping");
  void cleanup().then(() => process.exit(1));
}, (MINUTES * 60 + 180) * 1000);
hardDeadline.unref();

// ---- helpers ------------------------------------------------------------------------------
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

let metricsPort;
async function scrape() {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const sum = (name) => {
    let v = 0;
    let seen = false;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
        v += Number(line.slice(line.lastIndexOf(" ") + 1));
        seen = true;
      }
    }
    return seen ? v : NaN;
  };
  return {
    lagMs: sum("nodejs_eventloop_lag_seconds") * 1000,
    lagP99Ms: sum("nodejs_eventloop_lag_p99_seconds") * 1000,
    lagMaxMs: sum("nodejs_eventloop_lag_max_seconds") * 1000,
    handles: sum("nodejs_active_handles_total"),
    heapMb: sum("nodejs_heap_size_used_bytes") / 1048576,
    connections: sum("smsws_connections"),
    delivered: sum("smsws_events_delivered_total"),
  };
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function waitFor(what, timeoutMs, condition, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- client sockets -------------------------------------------------------------------------
let wsUrl;
const keys = [];
const clientStats = { opened: 0, authOk: 0, authErrors: 0, unexpectedCloses: 0, events: 0, churned: 0 };

/** One raw `ws` socket: connect, authenticate, count events. Resolves once authenticated. */
function openSocket(scope) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    const s = { ws, scope, live: false, closing: false };
    sockets.add(s);
    clientStats.opened++;
    const timer = setTimeout(() => {
      clientStats.authErrors++;
      s.closing = true;
      ws.terminate();
      resolve(false);
    }, 15_000);
    ws.on("open", () => ws.send(JSON.stringify({ type: "auth", apiKey: keys[scope] })));
    ws.on("message", (data) => {
      if (s.live) {
        // Events and pings; counting is enough (no JSON.parse per event on the client side).
        if (data.length > 20 && data[9] === 0x73 /* {"type":"s... */) clientStats.events++;
        return;
      }
      const text = data.toString();
      if (text.startsWith('{"type":"auth_ok"')) {
        s.live = true;
        clientStats.authOk++;
        clearTimeout(timer);
        resolve(true);
      } else if (text.includes("auth_error")) {
        clientStats.authErrors++;
      }
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      sockets.delete(s);
      clearTimeout(timer);
      if (!s.closing) clientStats.unexpectedCloses++;
      resolve(false);
    });
  });
}

function closeSocket(s) {
  s.closing = true;
  sockets.delete(s);
  return new Promise((resolve) => {
    s.ws.once("close", resolve);
    s.ws.close(1000, "soak churn");
    setTimeout(() => {
      s.ws.terminate();
      resolve();
    }, 5000).unref();
  });
}

async function openMany(count, concurrency = 100) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        await openSocket(i % SCOPES);
      }
    }),
  );
}

// ---- main -----------------------------------------------------------------------------------
const startedAt = new Date();
let verdict = { pass: false, reasons: ["did not finish"] };
const samples = [];
let published = 0;
let publishErrors = 0;
let baseline;
let final;
try {
  nats = await startNatsServer();
  producer = await connect({ servers: nats.url, name: "soak-producer" });
  const kv = await new Kvm(producer).create("sms_api_keys", { history: 1 });
  // Scopes: tenants t0..t9, apps a0..; keys exist before the node starts (ready = keys loaded).
  for (let i = 0; i < SCOPES; i++) keys.push((await createKey(kv, { role: "app", tenantId: `t${i % 10}`, appId: `a${Math.floor(i / 10)}`, label: "soak" })).apiKey);

  const port = await freePort();
  metricsPort = await freePort();
  node = spawn(process.execPath, [join(root, "dist/cli/main.js"), "serve"], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: "warn",
      AUTO_PROVISION: "true",
      // Every soak socket comes from 127.0.0.1: per-IP abuse limits would throttle the churn.
      MAX_UNAUTHENTICATED_PER_IP: "100000",
      MAX_UNAUTHENTICATED: "100000",
      AUTH_FAILURES_PER_IP_PER_MIN: "0",
      DRAIN_DELAY_MS: "0",
      DRAIN_WINDOW_MS: "1000",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const nodeLog = [];
  node.stdout.on("data", (c) => {
    nodeLog.push(c.toString());
    if (nodeLog.length > 200) nodeLog.shift();
  });
  let crashed;
  node.once("exit", (code, signal) => {
    if (!cleaning) crashed = `node exited (code ${code}, signal ${signal})`;
  });
  wsUrl = `ws://127.0.0.1:${port}/ws`;
  await waitFor("node ready", 20_000, async () => {
    if (crashed) throw new Error(`${crashed}: ${nodeLog.join("")}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }, 100);
  await sleep(1000); // let the first collect of the default metrics settle
  baseline = { rssMb: rssMb(node.pid), ...(await scrape()) };
  log(`node pid ${node.pid} ready: RSS ${baseline.rssMb.toFixed(1)} MB, handles ${baseline.handles}, connections ${baseline.connections}`);

  log(`opening ${SOCKETS} sockets over ${SCOPES} scopes`);
  const t0open = Date.now();
  await openMany(SOCKETS);
  log(`${clientStats.authOk} authenticated in ${Date.now() - t0open} ms (${clientStats.authErrors} auth errors)`);

  // Steady producer (durable path, acked, pipelined with a bound on what is in flight).
  let running = true;
  const inflight = new Set();
  const pump = (async () => {
    const t0 = Date.now();
    let n = 0;
    while (running && RATE > 0) {
      const i = n++;
      const scope = i % SCOPES;
      const p = publishEvent(producer, { type: "sms_status", messageId: `soak${i}`, tenantId: `t${scope % 10}`, appId: `a${Math.floor(scope / 10)}`, status: "sent" })
        .then(() => void published++)
        .catch(() => void publishErrors++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
      while (inflight.size >= 2000) await Promise.race(inflight);
      const ahead = t0 + n * (1000 / RATE) - Date.now();
      if (ahead > 0) await sleep(ahead);
    }
    await Promise.all(inflight);
  })();

  // Churn: every second close ~CHURN of the sockets and open as many new ones (connect + auth).
  const churnPerSecond = Math.max(CHURN > 0 ? 1 : 0, Math.round(SOCKETS * CHURN));
  const churn = setInterval(() => {
    const victims = [...sockets].filter((s) => s.live && !s.closing);
    for (let k = 0; k < churnPerSecond && victims.length > 0; k++) {
      const s = victims.splice(Math.floor(Math.random() * victims.length), 1)[0];
      clientStats.churned++;
      void closeSocket(s).then(() => openSocket(s.scope));
    }
  }, 1000);

  // Samples every SAMPLE_MS for the run.
  const runMs = MINUTES * 60_000;
  const t0 = Date.now();
  let lastEvents = 0;
  let lastT = t0;
  while (Date.now() - t0 < runMs) {
    await sleep(Math.min(SAMPLE_MS, runMs - (Date.now() - t0)));
    if (crashed) break;
    const m = await scrape().catch(() => undefined);
    const now = Date.now();
    const sample = {
      t: Math.round((now - t0) / 1000),
      rssMb: rssMb(node.pid),
      heapMb: m?.heapMb ?? NaN,
      lagMs: m?.lagMs ?? NaN,
      lagP99Ms: m?.lagP99Ms ?? NaN,
      lagMaxMs: m?.lagMaxMs ?? NaN,
      handles: m?.handles ?? NaN,
      connections: m?.connections ?? NaN,
      clientSockets: sockets.size,
      eventsPerS: Math.round(((clientStats.events - lastEvents) * 1000) / (now - lastT)),
      churned: clientStats.churned,
      published,
    };
    lastEvents = clientStats.events;
    lastT = now;
    samples.push(sample);
    log(
      `t=${sample.t}s rss ${sample.rssMb.toFixed(1)} MB heap ${sample.heapMb.toFixed(1)} MB lag ${sample.lagMs.toFixed(1)} ms (p99 ${sample.lagP99Ms.toFixed(1)}) ` +
        `handles ${sample.handles} conns ${sample.connections} events/s ${sample.eventsPerS} churned ${sample.churned} published ${published}`,
    );
  }
  clearInterval(churn);
  running = false;
  await pump;

  // Tear-down: every socket closes; the node must come back to its baseline.
  log(`closing all ${sockets.size} sockets`);
  await Promise.all([...sockets].map((s) => closeSocket(s)));
  let settled = false;
  try {
    await waitFor("connections back to 0 and handles back to baseline", 30_000, async () => {
      const m = await scrape();
      return m.connections === 0 && m.handles <= baseline.handles + HANDLE_SLACK;
    }, 500);
    settled = true;
  } catch {
    settled = false;
  }
  final = { rssMb: crashed ? NaN : rssMb(node.pid), ...(await scrape().catch(() => ({}))) };

  // ---- verdict ----
  const reasons = [];
  const steady = samples.filter((s) => s.t >= (MINUTES * 60 * WARMUP_FRACTION));
  const rssSlope = slope(steady.map((s) => [s.t / 60, s.rssMb]));
  const heapSlope = slope(steady.map((s) => [s.t / 60, s.heapMb]));
  const maxLag = Math.max(...samples.map((s) => (Number.isFinite(s.lagMaxMs) ? s.lagMaxMs : s.lagMs)));
  if (crashed) reasons.push(crashed);
  if (steady.length < 3) reasons.push(`too few samples after warm-up (${steady.length}) to judge a trend: run longer`);
  else if (rssSlope > MAX_RSS_SLOPE) reasons.push(`RSS still growing after warm-up: ${rssSlope.toFixed(2)} MB/min > ${MAX_RSS_SLOPE}`);
  if (maxLag > MAX_LAG_MS) reasons.push(`event-loop lag reached ${maxLag.toFixed(0)} ms > ${MAX_LAG_MS}`);
  if (!settled) reasons.push(`after closing every socket: connections ${final.connections} (want 0), handles ${final.handles} (baseline ${baseline.handles} + ${HANDLE_SLACK})`);
  if (clientStats.authErrors > 0) reasons.push(`${clientStats.authErrors} sockets failed to authenticate`);
  if (clientStats.unexpectedCloses > 0) reasons.push(`${clientStats.unexpectedCloses} sockets closed by the server unexpectedly`);
  if (RATE > 0 && clientStats.events === 0) reasons.push("no events delivered");
  if (publishErrors > 0) reasons.push(`${publishErrors} publishes failed`);
  verdict = {
    pass: reasons.length === 0,
    reasons,
    rssSlopeMbPerMin: rssSlope,
    heapSlopeMbPerMin: heapSlope,
    maxLagMs: maxLag,
  };
} catch (err) {
  verdict = { pass: false, reasons: [`soak failed: ${err?.stack ?? err}`] };
} finally {
  await cleanup();
}

// ---- report ---------------------------------------------------------------------------------
const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
const header = "| t (s) | RSS MB | heap MB | lag ms | lag p99 ms | handles | connections | client sockets | events/s received | churned (total) | published (total) |";
const rows = samples.map(
  (s) =>
    `| ${s.t} | ${fmt(s.rssMb)} | ${fmt(s.heapMb)} | ${fmt(s.lagMs)} | ${fmt(s.lagP99Ms)} | ${s.handles} | ${s.connections} | ${s.clientSockets} | ${s.eventsPerS} | ${s.churned} | ${s.published} |`,
);
const table = [header, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", ...rows].join("\n");
const summary = [
  `- parameters: ${MINUTES} min, ${SOCKETS} sockets over ${SCOPES} scopes, churn ${(CHURN * 100).toFixed(1)}%/s (${Math.round(SOCKETS * CHURN)} sockets/s closed and reopened), ${RATE} events/s published (durable path), sample every ${SAMPLE_MS / 1000} s`,
  `- baseline (node ready, no sockets): RSS ${fmt(baseline?.rssMb)} MB, handles ${baseline?.handles ?? "-"}, connections ${baseline?.connections ?? "-"}`,
  `- after all sockets closed: RSS ${fmt(final?.rssMb)} MB, handles ${final?.handles ?? "-"}, connections ${final?.connections ?? "-"}`,
  `- RSS slope after warm-up (second half): ${fmt(verdict.rssSlopeMbPerMin, 2)} MB/min (limit ${MAX_RSS_SLOPE}); heap-used slope ${fmt(verdict.heapSlopeMbPerMin, 2)} MB/min (reported only)`,
  `- max event-loop lag sampled: ${fmt(verdict.maxLagMs)} ms (limit ${MAX_LAG_MS})`,
  `- sockets opened ${clientStats.opened}, authenticated ${clientStats.authOk}, churned ${clientStats.churned}, auth errors ${clientStats.authErrors}, unexpected server closes ${clientStats.unexpectedCloses}`,
  `- events published ${published} (failed ${publishErrors}), events received by the sockets ${clientStats.events}`,
  `- verdict: **${verdict.pass ? "PASS" : "FAIL"}**${verdict.reasons.length ? ` (${verdict.reasons.join("; ")})` : ""}`,
].join("\n");
console.log(`\nSoak samples\n\n${table}\n\n${summary}\n`);
if (flags.record) {
  const file = join(root, "docs/soak-results.md");
  writeFileSync(
    file,
    `# Soak results\n\nRecorded by \`node scripts/soak.mjs --minutes ${MINUTES} --sockets ${SOCKETS} --record\` on ${startedAt.toISOString()} ` +
      `(Node ${process.version}, ${(await import("node:os")).cpus().length} CPUs, nats-server from the PATH). What the soak does and the leak criteria: [soak.md](soak.md).\n\n` +
      `${summary}\n\n${table}\n`,
  );
  log(`recorded to ${file}`);
}
process.exit(verdict.pass ? 0 : 1);

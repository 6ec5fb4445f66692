// Writes bench/results/<name>.json, <name>.md (tables, ratios against the gateway) and <name>.svg
// (publish-to-receive latency percentiles against offered delivery rate, one line per peer).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LADDERS = ['hot-scope', 'many-scopes', 'admin-firehose'];
const COLORS = { gateway: '#d62728', 'gateway-before': '#ff9896', 'gateway-tokens': '#e377c2', 'uws-ceiling': '#1f77b4', 'ws-baseline': '#7f7f7f', 'nats-ws': '#2ca02c', soketi: '#9467bd', centrifugo: '#ff7f0e' };
const color = (p, i) => COLORS[p] ?? ['#8c564b', '#e377c2', '#bcbd22', '#17becf'][i % 4];

const ms = (us) => (us === null || us === undefined ? '-' : us >= 100000 ? `${Math.round(us / 1000)}` : (us / 1000).toFixed(us >= 10000 ? 1 : 2));
const num = (n) => (n === null || n === undefined ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : `${n}`);
const ratio = (v, g) => (v === null || v === undefined || !g ? '-' : `${(v / g).toFixed(2)}x`);

/** The highest offered rate that every running peer passed in this scenario (fair CPU comparison). */
function commonRate(result, scenario) {
  const sets = Object.values(result.peers)
    .filter((p) => p.status === 'ok' && p.scenarios?.[scenario])
    .map((p) => new Set(p.scenarios[scenario].steps.filter((s) => s.pass).map((s) => s.offeredDeliveriesPerSec)));
  if (!sets.length) return null;
  const all = [...sets[0]].filter((r) => sets.every((s) => s.has(r)));
  if (all.length) return Math.max(...all);
  const firsts = Object.values(result.peers)
    .filter((p) => p.status === 'ok' && p.scenarios?.[scenario]?.steps.length)
    .map((p) => p.scenarios[scenario].steps[0].offeredDeliveriesPerSec);
  return firsts.length ? Math.min(...firsts) : null;
}
const stepAt = (p, scenario, rate) => p.scenarios?.[scenario]?.steps.find((s) => s.offeredDeliveriesPerSec === rate);

export function summarize(result) {
  const rows = {};
  const common = Object.fromEntries(LADDERS.map((s) => [s, commonRate(result, s)]));
  for (const [name, p] of Object.entries(result.peers)) {
    if (p.status !== 'ok') continue;
    const r = {};
    for (const s of LADDERS) {
      const sc = p.scenarios[s];
      if (!sc) continue;
      const at = stepAt(p, s, common[s]);
      r[s] = {
        max: sc.maxSustainedDeliveriesPerSec,
        clientBound: sc.clientBoundAtMax,
        cpuAtCommon: at?.cpuMsPer100k ?? null,
        userCpuAtCommon: at?.userCpuMsPer100k ?? null,
        natsCpuAtCommon: at?.natsCpuMsPer100k ?? null,
        natsUserCpuAtCommon: at?.natsUserCpuMsPer100k ?? null,
        atTop: sc.maxSustainedDeliveriesPerSec > 0 && sc.maxSustainedDeliveriesPerSec >= Math.max(...(result.meta.config.ladder?.[s] ?? [Infinity])),
        p99AtCommon: at?.latencyUs.p99 ?? null,
        limitUs: sc.p99LimitUs,
        floorUs: sc.fanoutFloorP99Us ?? null,
      };
    }
    r.idle = p.scenarios.idle?.rssBytesPerSocket ?? null;
    r.connectRate = p.scenarios['connect-storm']?.initial.rate ?? null;
    r.reconnectMs = p.scenarios['connect-storm']?.reconnect.ms ?? null;
    rows[name] = r;
  }
  return { rows, common };
}

function markdown(result) {
  const { meta } = result;
  const { rows, common } = summarize(result);
  const g = rows.gateway;
  const L = [];
  L.push(`# Bench results: ${meta.quick ? 'quick (smoke, not for timing)' : 'full run'}`, '');
  L.push(`- Command: \`${meta.command}\` (${meta.durationSecs} s), ${meta.date}`);
  L.push(`- Machine: ${meta.machine.nproc} cores, ${meta.machine.cpu}, ${meta.machine.memGiB} GiB, Linux ${meta.machine.kernel}; shared and noisy: only ratios from the same run mean anything`);
  L.push(`- Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v ?? 'n/a'}`).join(', ')}`);
  L.push(`- Sockets: ${meta.config.sockets} (hot-scope, many-scopes over ${meta.config.scopes} scopes), ${meta.config.admins} admin sockets; gateway path: ${meta.config.gatewayPath}`);
  L.push('');
  L.push('## Headline', '');
  L.push('Max sustained = the highest offered delivery rate (events/s x receiving sockets) whose step kept p99 publish-to-receive under 10 ms with no loss and no socket closed. ' +
    'Ratios are peer / gateway: above 1 means more deliveries (capacity columns) or more CPU / memory (cost columns) than the gateway. ' +
    '"(client)" marks a result where the load generator or the publisher, not the server, was saturated; "≥" a peer that passed the top of the ladder. ' +
    'CPU is user+sys of the server processes (see below) per 100 000 deliveries at the highest rate every peer passed; "user" is the user-space part alone: on loopback the kernel time (one write per frame, plus the receiving side of TCP) dominates at low rates and is much the same for every server.', '');
  L.push('hot-scope uses p99 < max(10 ms, 2 x the peer\'s own single-event fan-out p99) since one event to N sockets is N socket writes; the fan-out column shows that single-event p99.', '');
  L.push(`| peer | hot-scope fan-out p99 ms | hot-scope max/s | vs gw | many-scopes max/s | vs gw | admin-firehose max/s | vs gw | CPU ms/100k hot @${num(common['hot-scope'])}/s | vs gw | CPU ms/100k many @${num(common['many-scopes'])}/s | vs gw | RSS B/idle socket | vs gw | connect+auth/s | reconnect ${meta.config.sockets} (ms) |`);
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, r] of Object.entries(rows)) {
    const cap = (s) => (r[s] ? `${r[s].atTop ? '≥' : ''}${num(r[s].max)}${r[s].clientBound ? ' (client)' : ''}` : '-');
    const cpuCell = (s) => (r[s]?.cpuAtCommon == null ? '-' : `${r[s].cpuAtCommon} (user ${r[s].userCpuAtCommon ?? '-'})`);
    const cpuRatio = (s) => (r[s]?.cpuAtCommon == null ? '-' : `${ratio(r[s].cpuAtCommon, g?.[s]?.cpuAtCommon)} (user ${ratio(r[s].userCpuAtCommon, g?.[s]?.userCpuAtCommon)})`);
    L.push(`| ${name} | ${ms(r['hot-scope']?.floorUs)} | ${cap('hot-scope')} | ${ratio(r['hot-scope']?.max, g?.['hot-scope']?.max)} | ${cap('many-scopes')} | ${ratio(r['many-scopes']?.max, g?.['many-scopes']?.max)} | ` +
      `${cap('admin-firehose')} | ${ratio(r['admin-firehose']?.max, g?.['admin-firehose']?.max)} | ${cpuCell('hot-scope')} | ${cpuRatio('hot-scope')} | ` +
      `${cpuCell('many-scopes')} | ${cpuRatio('many-scopes')} | ${r.idle ?? '-'} | ${ratio(r.idle, g?.idle)} | ${r.connectRate ? Math.round(r.connectRate) : '-'} | ${r.reconnectMs ? Math.round(r.reconnectMs) : '-'} |`);
  }
  L.push(...paths(result, rows, common));
  L.push(...targets(result, rows));
  const notRun = Object.entries(result.peers).filter(([, p]) => p.status !== 'ok');
  if (notRun.length) {
    L.push('', '### Peers that could not run or failed', '');
    for (const [n, p] of notRun) L.push(`- **${n}** (${p.status}): ${String(p.reason).split('\n')[0]}`);
  }
  const skipped = Object.entries(result.peers).filter(([, p]) => p.skipped?.length);
  if (skipped.length) {
    L.push('', '### Scenarios skipped (time budget) or not expressible by the peer (n/a)', '');
    for (const [n, p] of skipped) L.push(`- ${n}: ${p.skipped.join(', ')}`);
  }
  L.push('', '### Server CPU counted', '');
  for (const [n, p] of Object.entries(result.peers)) if (p.cpuCounted) L.push(`- ${n}: ${p.cpuCounted}`);
  const extra = ['filtered', 'sse'].filter((s) => Object.values(result.peers).some((p) => p.scenarios?.[s]));
  for (const s of [...LADDERS, ...extra]) {
    L.push('', `## ${s}`, '');
    if (s === 'sse') {
      const f = Object.values(result.peers).find((p) => p.scenarios?.sse)?.scenarios.sse;
      L.push(`Server-Sent Events (GET /v1/events/stream): ${f.streams} streams over the many-scopes scopes, held by a Node client (lib/sse-client.mjs, its CPU counted apart). Compare with the WebSocket many-scopes of this same run (deliveries/s, CPU per delivery).`, '');
    }
    if (s === 'filtered') {
      const f = Object.values(result.peers).find((p) => p.scenarios?.filtered)?.scenarios.filtered;
      L.push(`many-scopes with server-side filters: ${f.filteredSockets} of the sockets filtered (per scope: 4 in 10 to status "failed", 1 in 10 watching one message), events mixing 4 statuses and 8 message ids. Compare with many-scopes of this same run (CPU per delivery, p99).`, '');
    }
    L.push('| peer | offered/s | delivered/s | lost | p50 ms | p99 ms | p99.9 ms | max ms | p99 limit ms | CPU ms/100k (user) [of which nats-server] | loadgen CPU | publisher CPU | machine busy | result |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [n, p] of Object.entries(result.peers)) {
      const sc = p.scenarios?.[s];
      if (!sc) continue;
      for (const st of sc.steps) {
        const l = st.latencyUs;
        L.push(`| ${n} | ${num(st.offeredDeliveriesPerSec)} | ${num(st.deliveriesPerSec)} | ${st.lost} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} | ${ms(st.p99LimitUs)} | ${st.cpuMsPer100k ?? '-'} (${st.userCpuMsPer100k ?? '-'})${st.natsCpuMsPer100k == null ? '' : ` [nats ${st.natsCpuMsPer100k}]`} | ${Math.round(st.loadgenCpuShare * 100)}% | ${Math.round(st.publisherCpuShare * 100)}% | ${Math.round(st.machineBusy * 100)}% | ${st.pass ? 'ok' : 'FAIL'}${st.clientBound ? ', client-bound' : ''}${st.closedSockets ? `, ${st.closedSockets} closed` : ''} |`);
      }
    }
    if (s === 'hot-scope') {
      L.push('', `Bursts (${result.meta.config.burstCount} bursts, ${result.meta.config.burstGapMs} ms apart, all to the hot scope):`, '');
      L.push('| peer | burst | delivered | lost | p50 ms | p99 ms | max ms | CPU ms/100k |');
      L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const [n, p] of Object.entries(result.peers))
        for (const b of p.scenarios?.['hot-scope']?.bursts ?? [])
          L.push(`| ${n} | ${b.plan.burst} | ${b.received} | ${b.lost} | ${ms(b.latencyUs.p50)} | ${ms(b.latencyUs.p99)} | ${ms(b.latencyUs.max)} | ${b.cpuMsPer100k ?? '-'} |`);
    }
  }
  L.push('', '## idle and connect-storm', '');
  L.push('| peer | sockets | server RSS B/socket | kernel slab B/socket pair | kernel TCP buffers B/socket pair | connect+auth/s | reconnect all (ms) | reconnect failed |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [n, p] of Object.entries(result.peers)) {
    const i = p.scenarios?.idle;
    const c = p.scenarios?.['connect-storm'];
    if (!i && !c) continue;
    L.push(`| ${n} | ${i?.sockets ?? '-'} | ${i?.rssBytesPerSocket ?? '-'} | ${i?.kernelSlabBytesPerSocketPair ?? '-'} | ${i?.kernelTcpBufBytesPerSocketPair ?? '-'} | ${c ? Math.round(c.initial.rate) : '-'} | ${c ? Math.round(c.reconnect.ms) : '-'} | ${c ? c.reconnect.failed : '-'} |`);
  }
  L.push('', `Chart: latency percentiles against offered rate, per peer: [${result.outName}.svg](${result.outName}.svg)`, '');
  return L.join('\n');
}

/**
 * The two delivery paths side by side: direct (core NATS, `gateway`) and durable (JetStream,
 * `gateway-durable`, what production runs), against the stack ceiling, with nats-server's part of
 * the CPU apart from the node's own.
 */
function paths(result, rows, common) {
  const s = 'many-scopes';
  const names = ['gateway', 'gateway-durable', 'gateway-before', 'uws-ceiling'].filter((n) => rows[n]?.[s]);
  if (!names.some((n) => n.startsWith('gateway'))) return [];
  const u = rows['uws-ceiling']?.[s];
  const direct = result.meta.config.gatewayPath?.startsWith('direct') ? 'direct (core NATS)' : 'durable (JetStream)';
  const pathOf = (n) => (n === 'gateway-durable' ? 'durable (JetStream, production default)' : n === 'uws-ceiling' ? 'no NATS (events made in-process)' : direct);
  const L = ['', `### Delivery paths (${s}, ${result.meta.config.sockets} sockets over ${result.meta.config.scopes} scopes)`, ''];
  L.push(`CPU at ${num(common[s])}/s, the highest rate every peer passed; "node" is the server CPU without nats-server's.`, '');
  L.push('| peer | path | max sustained/s | vs uws-ceiling | CPU ms/100k (user) | vs uws-ceiling | of which nats-server | node alone | node alone vs uws-ceiling |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of names) {
    const r = rows[n][s];
    // a gateway step measured before the split was recorded has no nats-server figure: no "node alone"
    const node = r.cpuAtCommon == null ? null : r.natsCpuAtCommon != null ? +(r.cpuAtCommon - r.natsCpuAtCommon).toFixed(1) : n === 'uws-ceiling' ? r.cpuAtCommon : null;
    const share = r.natsCpuAtCommon == null || !r.cpuAtCommon ? '-' : `${r.natsCpuAtCommon} (${Math.round((100 * r.natsCpuAtCommon) / r.cpuAtCommon)}%)`;
    L.push(`| ${n} | ${pathOf(n)} | ${r.atTop ? '≥' : ''}${num(r.max)}${r.clientBound ? ' (client)' : ''} | ${ratio(r.max, u?.max)} | ${r.cpuAtCommon ?? '-'} (user ${r.userCpuAtCommon ?? '-'}) | ${ratio(r.cpuAtCommon, u?.cpuAtCommon)} | ${share} | ${node ?? '-'} | ${ratio(node, u?.cpuAtCommon)} |`);
  }
  return L;
}

const lessMore = (r) => (!r ? 'n/a' : r >= 1 ? `gateway uses ${r.toFixed(2)}x less` : `gateway uses ${(1 / r).toFixed(2)}x more`);

/** The issue's targets, checked against this run's ratios. */
function targets(result, rows) {
  const g = rows.gateway;
  if (!g) return [];
  const L = ['', '### Targets (issues 4, 5 and 6), from this run', '', '| target | measured | met |', '|---|---|---|'];
  const row = (t, m, ok) => L.push(`| ${t} | ${m} | ${ok === null ? 'n/a' : ok ? 'yes' : '**no**'} |`);
  const cpu = (p, s) => rows[p]?.[s]?.cpuAtCommon ?? null;
  const cmp = (p, s) => (cpu(p, s) && cpu('gateway', s) ? cpu(p, s) / cpu('gateway', s) : null);
  const ucpu = (p, s) => rows[p]?.[s]?.userCpuAtCommon ?? null;
  const ucmp = (p, s) => (ucpu(p, s) && ucpu('gateway', s) ? ucpu(p, s) / ucpu('gateway', s) : null);
  const both = (p, s) => `${lessMore(cmp(p, s))}; user space: ${lessMore(ucmp(p, s))}`;
  const u = cmp('uws-ceiling', 'hot-scope');
  row('gateway CPU/delivery within 1.3x of uws-ceiling (hot-scope)', u ? `gateway ${cpu('gateway', 'hot-scope')} vs ${cpu('uws-ceiling', 'hot-scope')} ms/100k: ${(1 / u).toFixed(2)}x` : 'n/a', u ? 1 / u <= 1.3 : null);
  for (const s of ['hot-scope', 'many-scopes']) {
    const w = cmp('ws-baseline', s);
    row(`at least 5x less CPU/delivery than ws-baseline (${s})`, both('ws-baseline', s), w ? w >= 5 : null);
  }
  for (const p of ['soketi', 'nats-ws', 'centrifugo'])
    for (const s of ['hot-scope', 'many-scopes']) {
      const c = cmp(p, s);
      row(`less CPU/delivery than ${p} (${s})`, both(p, s), c ? c > 1 : null);
    }
  for (const s of ['many-scopes', 'hot-scope']) {
    const sc = result.peers.gateway?.scenarios?.[s];
    if (!sc?.maxSustainedDeliveriesPerSec) {
      row(`p99 < 10 ms at half the max sustainable rate (${s})`, 'no sustainable step', null);
      continue;
    }
    const half = sc.maxSustainedDeliveriesPerSec / 2;
    const st = sc.steps.reduce((a, b) => (Math.abs(b.offeredDeliveriesPerSec - half) < Math.abs(a.offeredDeliveriesPerSec - half) ? b : a));
    const floor = sc.fanoutFloorP99Us ? `; a single event's fan-out to all ${sc.sockets} alone: p99 ${ms(sc.fanoutFloorP99Us)} ms` : '';
    row(`p99 < 10 ms at half the max sustainable rate, ${sc.sockets} sockets (${s})`, `${ms(st.latencyUs.p99)} ms at ${num(st.offeredDeliveriesPerSec)}/s (max ${num(sc.maxSustainedDeliveriesPerSec)}/s)${floor}`, st.latencyUs.p99 < 10000);
  }
  // Issue items 5 and 6: the per-delivery cost of the node, both paths, against the ceiling
  const many = (p) => rows[p]?.['many-scopes'];
  const uc = many('uws-ceiling');
  for (const p of ['gateway', 'gateway-durable']) {
    const m = many(p);
    if (!m || !uc) continue;
    const c = m.cpuAtCommon && uc.cpuAtCommon ? m.cpuAtCommon / uc.cpuAtCommon : null;
    const nodeOnly = c === null ? null : (m.cpuAtCommon - (m.natsCpuAtCommon ?? 0)) / uc.cpuAtCommon;
    row(`${p}: CPU/delivery at most 1.3x uws-ceiling, NATS included (many-scopes)`, c === null ? 'n/a' : `${m.cpuAtCommon} vs ${uc.cpuAtCommon} ms/100k: ${c.toFixed(2)}x (without nats-server's ${m.natsCpuAtCommon ?? 0}: ${nodeOnly.toFixed(2)}x)`, c === null ? null : c <= 1.3);
    const cap = uc.max ? m.max / uc.max : null;
    row(`${p}: capacity at least 0.9x uws-ceiling (many-scopes)`, cap === null ? 'n/a' : `${num(m.max)} vs ${num(uc.max)}/s: ${cap.toFixed(2)}x`, cap === null ? null : cap >= 0.9);
  }
  const gd = many('gateway-durable'), gdirect = many('gateway');
  if (gd && gdirect && gdirect.max) {
    const r = gd.max / gdirect.max;
    row('durable path sustained rate at least 0.8x the direct path (many-scopes)', `${num(gd.max)} vs ${num(gdirect.max)}/s: ${r.toFixed(2)}x`, r >= 0.8);
  }
  if (g.idle !== null) row('under 2 KB user-space memory per idle authenticated socket', `${g.idle} B (${result.peers.gateway.scenarios.idle.sockets} sockets)`, g.idle < 2048);
  L.push('', 'CPU comparisons use each scenario\'s common rate (the highest offered rate every peer passed).');
  return L;
}

function svg(result) {
  const W = 1330, H = 460, panelW = 400, top = 50, ph = 330, left = 55;
  const peers = Object.entries(result.peers).filter(([, p]) => p.status === 'ok');
  const xs = [], ys = [];
  for (const [, p] of peers)
    for (const s of LADDERS)
      for (const st of p.scenarios?.[s]?.steps ?? []) {
        xs.push(st.offeredDeliveriesPerSec);
        for (const k of ['p50', 'p99']) if (st.latencyUs[k]) ys.push(st.latencyUs[k] / 1000);
      }
  const xmin = Math.min(...xs, 1e4) / 1.3, xmax = Math.max(...xs, 1e5) * 1.3;
  const ymin = 0.05, ymax = Math.max(100, ...ys) * 1.5;
  const lx = (v) => Math.log10(v);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Publish-to-receive latency vs offered deliveries/s (solid p99, dashed p50; log-log; ${esc(result.meta.date.slice(0, 10))}, ${result.meta.quick ? 'quick' : 'full'} run)</text>`);
  LADDERS.forEach((s, pi) => {
    const x0 = left + pi * (panelW + 15);
    const X = (v) => x0 + ((lx(v) - lx(xmin)) / (lx(xmax) - lx(xmin))) * (panelW - 20);
    const Y = (v) => top + ph - ((lx(Math.max(ymin, v)) - lx(ymin)) / (lx(ymax) - lx(ymin))) * ph;
    out.push(`<text x="${x0 + (panelW - 20) / 2}" y="${top - 8}" text-anchor="middle" font-size="13">${s}</text>`);
    out.push(`<rect x="${x0}" y="${top}" width="${panelW - 20}" height="${ph}" fill="none" stroke="#333"/>`);
    for (let e = Math.ceil(lx(ymin)); e <= lx(ymax); e++) {
      const v = 10 ** e, y = Y(v);
      out.push(`<line x1="${x0}" x2="${x0 + panelW - 20}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      if (pi === 0) out.push(`<text x="${x0 - 4}" y="${y + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(Math.abs(e))} ms</text>`);
    }
    for (let e = Math.ceil(lx(xmin)); e <= lx(xmax); e++) {
      const x = X(10 ** e);
      out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + ph}" stroke="#ddd"/>`);
      out.push(`<text x="${x}" y="${top + ph + 14}" text-anchor="middle">${num(10 ** e)}</text>`);
    }
    const y10 = Y(10);
    out.push(`<line x1="${x0}" x2="${x0 + panelW - 20}" y1="${y10}" y2="${y10}" stroke="#f90" stroke-dasharray="6 3"/>`);
    out.push(`<text x="${x0 + panelW - 24}" y="${y10 - 3}" text-anchor="end" fill="#f90">10 ms</text>`);
    out.push(`<text x="${x0 + (panelW - 20) / 2}" y="${top + ph + 30}" text-anchor="middle">offered deliveries/s</text>`);
    peers.forEach(([name, p], i) => {
      const steps = p.scenarios?.[s]?.steps ?? [];
      for (const [k, dash] of [['p99', ''], ['p50', ' stroke-dasharray="4 3"']]) {
        const pts = steps.filter((st) => st.latencyUs[k] !== null).map((st) => `${X(st.offeredDeliveriesPerSec).toFixed(1)},${Y(st.latencyUs[k] / 1000).toFixed(1)}`);
        if (pts.length) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color(name, i)}" stroke-width="2"${dash}/>`);
      }
      for (const st of steps) {
        if (st.latencyUs.p99 === null) continue;
        const cx = X(st.offeredDeliveriesPerSec), cy = Y(st.latencyUs.p99 / 1000);
        out.push(st.pass
          ? `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="3.5" fill="${color(name, i)}"><title>${esc(name)} ${num(st.offeredDeliveriesPerSec)}/s p99 ${ms(st.latencyUs.p99)} ms</title></circle>`
          : `<text x="${cx.toFixed(1)}" y="${(cy + 4).toFixed(1)}" text-anchor="middle" fill="${color(name, i)}" font-size="13">x<title>${esc(name)} ${num(st.offeredDeliveriesPerSec)}/s p99 ${ms(st.latencyUs.p99)} ms, lost ${st.lost}</title></text>`);
      }
    });
  });
  peers.forEach(([name], i) => {
    const x = left + i * 150;
    out.push(`<line x1="${x}" x2="${x + 24}" y1="${H - 22}" y2="${H - 22}" stroke="${color(name, i)}" stroke-width="3"/>`);
    out.push(`<text x="${x + 30}" y="${H - 18}">${esc(name)}</text>`);
  });
  out.push(`<text x="${W - 10}" y="${H - 18}" text-anchor="end">dot: step passed (no loss, p99 &lt; 10 ms; hot-scope: &lt; max(10 ms, 2 x single-event fan-out)); x: failed</text>`);
  out.push('</svg>');
  return out.join('\n');
}
const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);

export function writeReport(result, dir, name) {
  result.outName = name;
  result.summary = summarize(result);
  const files = [join(dir, `${name}.json`), join(dir, `${name}.md`), join(dir, `${name}.svg`)];
  writeFileSync(files[0], `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(files[1], markdown(result));
  writeFileSync(files[2], svg(result));
  return files;
}

// Re-render from a results file: node bench/lib/report.mjs bench/results/latest.json
if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFileSync } = await import('node:fs');
  const { dirname, basename } = await import('node:path');
  const file = process.argv[2];
  const result = JSON.parse(readFileSync(file, 'utf8'));
  console.log(writeReport(result, dirname(file), basename(file, '.json')).join('\n'));
}

// SSE load client, a child process of run.mjs (its CPU is measured apart from the server's): holds
// N text/event-stream responses of GET /v1/events/stream, one API key each (Authorization:
// Bearer), and counts the events. Latency: each event's messageId carries its send time
// (bt_<epoch us>, lib/pace.mjs). Commands on stdin, one JSON line answered on stdout:
//   count -> {"kind":"count","events"}    mark -> {"kind":"mark",...} (then reset)    quit
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { percentilesOf } from './loadgen.mjs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')); // { port, keys: [apiKey per stream] }
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

let events = 0;
let sampled = 0;
let max = 0;
let hist = new Map();
const closes = {};
const types = {};
const bucket = (us) => {
  if (us < 128) return us;
  const shift = Math.floor(Math.log2(us)) - 6;
  return (us >> shift) << shift;
};

let ready = 0;
let failed = 0;
const t0 = performance.now();
const requests = [];
for (const key of cfg.keys) {
  const req = http.get({ host: '127.0.0.1', port: cfg.port, path: '/v1/events/stream', agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
    if (res.statusCode !== 200) {
      failed++;
      res.resume();
      return;
    }
    ready++;
    res.setEncoding('utf8');
    let buffer = '';
    let event = '';
    res.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) {
          types[event] = (types[event] ?? 0) + 1;
          if (event === 'close') closes[JSON.parse(line.slice(6)).code] = (closes[JSON.parse(line.slice(6)).code] ?? 0) + 1;
          if (event !== 'sms_status') continue;
          events++;
          const at = line.indexOf('"bt_');
          if (at < 0) continue;
          const sent = Number(line.slice(at + 4, line.indexOf('_', at + 4)));
          const us = Math.max(0, nowUs() - sent);
          sampled++;
          max = Math.max(max, us);
          const b = bucket(us);
          hist.set(b, (hist.get(b) ?? 0) + 1);
        }
      }
    });
  });
  req.on('error', () => failed++);
  requests.push(req);
}
const readyTimer = setInterval(() => {
  if (ready + failed < cfg.keys.length) return;
  clearInterval(readyTimer);
  const ms = performance.now() - t0;
  say({ kind: 'ready', ready, failed, ms, rate: (ready * 1000) / ms });
}, 5);

createInterface({ input: process.stdin }).on('line', (cmd) => {
  if (cmd === 'count') say({ kind: 'count', events });
  else if (cmd === 'mark') {
    const h = [...hist.entries()].sort((a, b) => a[0] - b[0]);
    say({ kind: 'mark', frames: events, bytes: 0, events, sampled, bad_ts: 0, secs: 0, types: { ...types }, close_codes: { ...closes }, hist: h, latency_us: percentilesOf(h, max) });
    events = 0;
    sampled = 0;
    max = 0;
    hist = new Map();
  } else if (cmd === 'quit') {
    for (const r of requests) r.destroy();
    say({ kind: 'final' });
    process.exit(0);
  }
});

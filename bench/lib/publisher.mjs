// Event publisher, a child process of run.mjs so that its CPU is measured apart from the servers.
// Reads one JSON plan per line on stdin, paces the events (lib/pace.mjs), answers one JSON line
// {"sent","secs","errors"} per plan. Modes:
//   msgpack-core  core NATS to sms.<t>.<a>.status, MessagePack (the gateway's direct path, ws-baseline)
//   msgpack-js    JetStream publish with ack to in.sms.<t>.<a>.status (the gateway's durable path):
//                 asynchronous, as a high-rate producer publishes, each publish a core NATS message
//                 with a reply subject on one wildcard inbox that collects the stream's acks (no
//                 request object, timer or promise per event), with Nats-Msg-Id = eventId as the
//                 producer library sets it (the stream de-duplicates); in flight at most ACK_WINDOW, then
//                 the pacing waits for acks; every ack is awaited before the plan is answered
//   json-core     core NATS, the event as JSON bytes (nats-server's WebSocket clients read it as is)
//   pusher        Pusher HTTP API /apps/<id>/batch_events, signed (Soketi)
//   centrifugo-api  Centrifugo's server HTTP API /api/batch (X-API-Key), 10 events per request:
//                 publish to the scope's channel, or (admin plans) broadcast to it and the admin channel
// Every event embeds its send time (bt_<epoch us>) at the moment it is encoded.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { pack } from 'msgpackr';
import { pace, eventObject, epochMicros } from './pace.mjs';

const cfg = JSON.parse(process.argv[2]);
let nc, natsHeaders;
const httpMode = cfg.mode === 'pusher' || cfg.mode === 'centrifugo-api';
if (!httpMode) {
  const { connect, headers } = await import('@nats-io/transport-node');
  nc = await connect({ servers: cfg.natsUrl, name: 'bench-publisher' });
  natsHeaders = headers;
}

// ---- JetStream acks (msgpack-js): one subscription, counted; a window bounds what is in flight ----
const ACK_WINDOW = 2048;
const acks = { sent: 0, acked: 0, errors: 0, maxInFlight: 0, waiters: [] };
const ackInbox = `_INBOX.bench_acks_${process.pid}`;
if (cfg.mode === 'msgpack-js') {
  const dec = new TextDecoder();
  nc.subscribe(`${ackInbox}.*`, {
    callback: (err, m) => {
      acks.acked++;
      // a PubAck is {"stream":..,"seq":..}; a refusal carries "error" (or is a no-responders status)
      if (err || m.data.length === 0 || dec.decode(m.data).includes('"error"')) acks.errors++;
      // each waiter checks its own bound once per ack (and waits again if still above it)
      const waiters = acks.waiters;
      acks.waiters = [];
      for (const check of waiters) check();
    },
  });
}
const inFlight = () => acks.sent - acks.acked;
/** As the producer library (src/publisher) publishes: Nats-Msg-Id = eventId, so the stream de-duplicates. */
function jsPublish(subject, data, msgId) {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', msgId);
  nc.publish(subject, data, { reply: `${ackInbox}.${acks.sent}`, headers: h });
  acks.sent++;
  if (inFlight() > acks.maxInFlight) acks.maxInFlight = inFlight();
}
/** Resolves when fewer than `limit` publishes wait for their ack (or after timeoutMs). */
function ackedBelow(limit, timeoutMs) {
  if (inFlight() < limit) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    const check = () => {
      if (inFlight() < limit) {
        clearTimeout(t);
        resolve();
      } else acks.waiters.push(check);
    };
    acks.waiters.push(check);
  });
}
const enc = new TextEncoder();

// ---- Pusher HTTP API (Soketi), Centrifugo server API ----
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function pusherPost(path, payload) {
  const body = JSON.stringify(payload);
  const md5 = createHash('md5').update(body).digest('hex');
  const params = `auth_key=${cfg.appKey}&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&body_md5=${md5}`;
  const sig = createHmac('sha256', cfg.appSecret).update(`POST\n${path}\n${params}`).digest('hex');
  return httpPost(`${path}?${params}&auth_signature=${sig}`, body, {});
}
/** One /api/batch request; a reply with an error for any command counts as failed. */
function centrifugoPost(commands) {
  return httpPost('/api/batch', JSON.stringify({ commands }), { 'x-api-key': cfg.apiKey }, (text) => (text.includes('"error"') ? 'command error' : null));
}
function httpPost(path, body, headers, checkBody = undefined) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port: cfg.httpPort, path, method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } },
      (res) => {
        let text = '';
        if (checkBody) res.on('data', (d) => (text += d));
        else res.resume();
        res.on('end', () => resolve(res.statusCode !== 200 ? `HTTP ${res.statusCode}` : checkBody ? checkBody(text) : null));
      },
    );
    req.on('error', (e) => resolve(e.message));
    req.end(body);
  });
}

async function run(plan) {
  const scopes = plan.scopes;
  let errors = 0;
  const inflight = new Set();
  const track = (p) => {
    inflight.add(p);
    p.then((err) => { if (err) errors++; inflight.delete(p); });
  };
  let batch = [];
  const flushBatch = () => {
    if (!batch.length) return;
    track(cfg.mode === 'pusher' ? pusherPost(`/apps/${cfg.appId}/batch_events`, { batch }) : centrifugoPost(batch));
    batch = [];
  };
  const r = await pace(plan, (first, n) => {
    const us = epochMicros();
    for (let i = first; i < first + n; i++) {
      const [t, a] = scopes[i % scopes.length];
      const ev = eventObject(t, a, i, us, plan.mix ? Math.floor(i / scopes.length) : undefined);
      if (cfg.mode === 'msgpack-core') nc.publish(`sms.${t}.${a}.status`, pack(ev));
      else if (cfg.mode === 'json-core') nc.publish(`sms.${t}.${a}.status`, enc.encode(JSON.stringify(ev)));
      else if (cfg.mode === 'msgpack-js') jsPublish(`in.sms.${t}.${a}.status`, pack(ev), ev.eventId);
      else if (cfg.mode === 'centrifugo-api') {
        const channel = `sms.${t}.${a}.status`;
        batch.push(plan.admin ? { broadcast: { channels: [channel, cfg.adminChannel], data: ev } } : { publish: { channel, data: ev } });
        if (batch.length >= 10) flushBatch();
      } else {
        const data = JSON.stringify(ev);
        batch.push({ name: 'sms_status', channel: `sms-${t}-${a}`, data });
        if (plan.admin) batch.push({ name: 'sms_status', channel: 'admin', data });
        if (batch.length >= 10) flushBatch();
      }
    }
    flushBatch();
  }, cfg.mode === 'msgpack-js' ? () => ackedBelow(ACK_WINDOW, 10000) : undefined);
  await Promise.all([...inflight]);
  if (nc) await nc.flush();
  if (cfg.mode === 'msgpack-js') {
    const sent = acks.sent;
    await ackedBelow(1, 10000);
    errors += acks.errors + inFlight(); // refused, or never acknowledged within 10 s
    acks.errors = 0;
    acks.sent = acks.acked = 0; // acks still missing are counted above; late ones would skew the next plan
    return { sent: r.sent, secs: r.secs, errors, acked: sent - errors, maxInFlight: acks.maxInFlight };
  }
  return { sent: r.sent, secs: r.secs, errors };
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const out = await run(JSON.parse(line)).catch((e) => ({ error: String(e?.stack ?? e) }));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
if (nc) await nc.close();
process.exit(0);

// ws-baseline: the same client protocol on `ws` + NATS, written the way a typical Node team
// would: one `sms.>` subscription, decode, JSON.stringify once, loop over every client and send
// to those in scope. No topic index, no corking.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { connect } from '@nats-io/transport-node';
import { unpack } from 'msgpackr';

const port = Number(process.env.PORT);
const keys = JSON.parse(readFileSync(process.env.BENCH_KEYS_FILE, 'utf8'));
const nc = await connect({ servers: process.env.NATS_URL });

const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', maxPayload: 4096 });
wss.on('connection', (ws) => {
  ws.scope = null;
  ws.on('message', (raw) => {
    if (ws.scope) return;
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      ws.close(4400, 'bad json');
      return;
    }
    const hash = createHash('sha256').update(String(msg.apiKey)).digest('hex');
    const entry = msg.type === 'auth' ? keys[hash] : undefined;
    if (!entry) {
      ws.send(JSON.stringify({ type: 'auth_error', error: 'Invalid API key' }));
      ws.close(4401, 'invalid key');
      return;
    }
    ws.scope = entry;
    ws.send(JSON.stringify({ type: 'auth_ok' }));
  });
});

nc.subscribe('sms.>', {
  callback: (err, m) => {
    if (err) return;
    let event;
    try {
      event = unpack(m.data);
    } catch {
      return;
    }
    const json = JSON.stringify(event);
    for (const ws of wss.clients) {
      const s = ws.scope;
      if (!s) continue;
      if (s.role === 'admin' || (s.tenantId === event.tenantId && s.appId === event.appId)) ws.send(json);
    }
  },
});
wss.on('listening', () => console.error(`ws-baseline listening on ${port}`));

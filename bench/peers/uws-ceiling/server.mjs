// uws-ceiling: bare uWebSockets.js, the practical limit of the gateway's stack. No NATS: events
// are generated in this process (POST /bench/generate) as pre-encoded JSON strings and published
// to uWS topics, one topic per scope plus "admin". Same client protocol as the gateway.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pace, epochMicros } from './pace.mjs';
// The uWS the gateway loads (src/runtime/uws-runtime.ts; npm run bench builds dist/ first): 20.57
// on the production runtime, the development fallback 20.30 on Node 20, so the ceiling and the
// gateway always run the same uWS.
import { loadUws } from '../../../dist/runtime/uws-runtime.js';

const uWS = loadUws();

const port = Number(process.env.PORT);
const keys = JSON.parse(readFileSync(process.env.BENCH_KEYS_FILE, 'utf8'));
const app = uWS.App();
const dec = new TextDecoder();

app.ws('/ws', {
  maxPayloadLength: 4096,
  idleTimeout: 120,
  maxBackpressure: 4 * 1024 * 1024,
  sendPingsAutomatically: true,
  open: (ws) => {
    ws.getUserData().authed = false;
  },
  message: (ws, message) => {
    const data = ws.getUserData();
    if (data.authed) return;
    let msg;
    try {
      msg = JSON.parse(dec.decode(message));
    } catch {
      ws.end(4400, 'bad json');
      return;
    }
    const hash = createHash('sha256').update(String(msg.apiKey)).digest('hex');
    const entry = msg.type === 'auth' ? keys[hash] : undefined;
    if (!entry) {
      ws.send('{"type":"auth_error","error":"Invalid API key"}');
      ws.end(4401, 'invalid key');
      return;
    }
    data.authed = true;
    ws.subscribe(entry.role === 'admin' ? 'admin' : `sms.${entry.tenantId}.${entry.appId}`);
    ws.send('{"type":"auth_ok"}');
  },
});

let running = Promise.resolve();
app.post('/bench/generate', (res) => {
  let body = '';
  res.onAborted(() => {});
  res.onData((chunk, last) => {
    body += Buffer.from(chunk).toString();
    if (!last) return;
    const plan = JSON.parse(body);
    const scopes = plan.scopes;
    const admin = plan.admin === true;
    // Publish from a timer, never inside this HTTP handler: uWS corks the HTTP socket while a
    // handler runs, and publishing from there defeats the per-socket batching of the topic tree.
    running = running.then(() => new Promise((r) => setImmediate(r))).then(() =>
      pace(plan, (first, n) => {
        const us = epochMicros();
        const ts = new Date(Math.floor(us / 1000)).toISOString();
        for (let i = first; i < first + n; i++) {
          const [t, a] = scopes[i % scopes.length];
          const json = `{"type":"sms_status","eventId":"e${us}_${i}","messageId":"bt_${us}_${i}","appId":"${a}","tenantId":"${t}","status":"sent","timestamp":"${ts}"}`;
          app.publish(`sms.${t}.${a}`, json, false, false);
          if (admin) app.publish('admin', json, false, false);
        }
      }),
    );
    running.then(
      (r) => res.cork(() => res.end(JSON.stringify(r))),
      (e) => res.cork(() => res.writeStatus('500 Internal Server Error').end(String(e))),
    );
  });
});
app.get('/readyz', (res) => res.end('ok'));

app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uws-ceiling: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
});

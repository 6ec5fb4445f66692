// A private nats-server per peer, on free loopback ports, killed with the bench.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, start, tcpOpen, waitFor } from './proc.mjs';
// The one resolver (NATS_SERVER_BIN, the pinned build in the cache, else the PATH): dist/ is built by `npm run bench`.
import { natsServerBinary } from '../../dist/dev/nats-binaries.js';

const dirs = new Set();
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true }); // JetStream stores of this run
});

export const NATS_BIN = natsServerBinary().path;

/** opts: { jetstream?: boolean, websocket?: boolean, extra?: string (config lines) } -> { child, url, port, wsPort } */
export async function startNats(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nats-'));
  dirs.add(dir);
  const port = await freePort();
  const wsPort = opts.websocket ? await freePort() : undefined;
  const conf = [`listen: "127.0.0.1:${port}"`, 'max_payload: 1048576'];
  if (opts.jetstream) conf.push(`jetstream { store_dir: "${dir}" }`);
  if (opts.websocket) conf.push(`websocket { host: "127.0.0.1", port: ${wsPort}, no_tls: true }`);
  if (opts.extra) conf.push(opts.extra); // e.g. the partition mapping (gateway-partitioned)
  const file = join(dir, 'nats.conf');
  writeFileSync(file, `${conf.join('\n')}\n`);
  const child = start(NATS_BIN, ['-c', file]);
  await waitFor(() => tcpOpen(port), 10000, 'nats-server', child);
  if (wsPort) await waitFor(() => tcpOpen(wsPort), 10000, 'nats-server websocket', child);
  return { child, port, wsPort, url: `nats://127.0.0.1:${port}`, dir };
}

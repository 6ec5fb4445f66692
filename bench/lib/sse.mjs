// The SSE load client (lib/sse-client.mjs) as a group with the LoadgenGroup surface run.mjs's
// step() uses: procs, mark(), count(), quit().
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { start, stop } from './proc.mjs';

const client = join(dirname(fileURLToPath(import.meta.url)), 'sse-client.mjs');

export class SseGroup {
  constructor(child) {
    this.procs = [{ child }];
    this.child = child;
    this.waiters = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const i = this.waiters.findIndex((w) => w.kind === msg.kind);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(msg);
    });
  }

  /** The configuration travels in a file: thousands of keys are too long for one argv string. */
  static start({ port, keys }) {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-sse-')), 'config.json');
    writeFileSync(file, JSON.stringify({ port, keys }));
    return new SseGroup(start(process.execPath, [client, file], { stdin: 'pipe', keepStdout: true }));
  }

  #next(kind, timeoutMs) {
    return new Promise((resolve, reject) => {
      const w = { kind, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`sse client: no ${kind} within ${timeoutMs} ms`));
        }
      }, timeoutMs).unref();
    });
  }

  waitReady(timeoutMs) {
    return this.#next('ready', timeoutMs);
  }

  async mark() {
    const p = this.#next('mark', 10000);
    this.child.stdin.write('mark\n');
    return p;
  }

  async count() {
    const p = this.#next('count', 10000);
    this.child.stdin.write('count\n');
    return p;
  }

  async quit() {
    this.child.stdin.write('quit\n');
    await stop(this.child, 2000);
  }
}

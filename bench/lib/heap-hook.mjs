// Preloaded into a server process by bench/idle-heap.mjs (NODE_OPTIONS=--import): on SIGUSR2 it
// writes the V8 heap's committed sizes, then collects garbage fully and writes what is still
// used, to HEAP_HOOK_OUT.<pid>.json. Inert without HEAP_HOOK_OUT. Bench-only, never in the product.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const out = process.env.HEAP_HOOK_OUT;
if (out) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const spaces = (field) => Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s[field]]));
  process.on('SIGUSR2', () => {
    const committed = spaces('physical_space_size');
    const rssBeforeGc = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) gc();
    const m = process.memoryUsage();
    writeFileSync(`${out}.${process.pid}.json`, JSON.stringify({ rssBeforeGc, rss: m.rss, heapUsed: m.heapUsed, external: m.external, committed, used: spaces('space_used_size') }));
  });
}

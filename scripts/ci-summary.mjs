#!/usr/bin/env node
// CI's closing lines: one per test run of .ci/run, then their sum alone on the last line
// (`tests: N passed, M failed`). Each run leaves its result in .tmp/ci/: a vitest JSON report
// (`<run>.vitest.json`) or `{ "passed": n, "failed": m, "ok": bool }` (`<run>.part.json`). A run
// that left no file, failed, or ran nothing fails CI here.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = '.tmp/ci';
const expected = process.argv.slice(2); // the runs that must have reported
const files = existsSync(dir) ? readdirSync(dir).sort() : [];
const runs = new Map();
for (const f of files) {
  const m = /^(.+)\.(vitest|part)\.json$/.exec(f);
  if (!m) continue;
  let result = { passed: 0, failed: 0, ok: false };
  try {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    result = m[2] === 'vitest'
      ? { passed: r.numPassedTests, failed: r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0), ok: r.success === true && r.numTotalTests > 0 }
      : { passed: r.passed, failed: r.failed, ok: r.ok === true && r.passed > 0 };
  } catch {
    // unreadable: counted as a failed run below
  }
  runs.set(m[1], result);
}
let ok = true;
let passed = 0;
let failed = 0;
for (const name of new Set([...expected, ...runs.keys()])) {
  const r = runs.get(name);
  if (r === undefined) {
    console.log(`ci: ${name}: no result (the run did not finish)`);
    ok = false;
    continue;
  }
  passed += r.passed;
  failed += r.failed;
  ok &&= r.ok && r.failed === 0;
  console.log(`ci: ${name}: ${r.passed} passed, ${r.failed} failed${r.ok && r.failed === 0 ? '' : ' (FAILED)'}`);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(ok && passed > 0 ? 0 : 1);

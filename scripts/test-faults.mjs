#!/usr/bin/env node
// npm run test:faults: runs the fault and hostile-input suites (vitest project "faults") and
// prints one summary table of what they injected and what was lost (must be 0).
// `npm run test:faults -- --ci`: the CI-sized subset (.ci/run): the 3-server NATS cluster (kill
// and stall) and the hostile-client fuzz with a fresh seed, in about 2 minutes; it fails on any
// loss, duplicate or crash, and when no scenario reported at all.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The one resolver (NATS_SERVER_BIN, the pinned build in the cache, else the PATH); `npm run test:faults` builds dist/ first.
import { binaryVersion, natsServerBinary } from "../dist/dev/nats-binaries.js";

const dir = mkdtempSync(join(tmpdir(), "smsws-faults-"));
const report = join(dir, "report.jsonl");
const CI_SUBSET = ["test/faults/nats-cluster.test.ts", "test/faults/hostile-clients.test.ts"];
const ci = process.argv.includes("--ci");
const passThrough = process.argv.slice(2).filter((a) => a !== "--ci");
const started = Date.now();
// Resolved once here, so every vitest worker runs the same server; the summary names its version.
const nats = natsServerBinary();
const natsVersion = binaryVersion(nats.path) ?? "unknown version";
console.log(`faults: nats-server ${natsVersion} (${nats.source})`);
const run = spawnSync("npx", ["vitest", "run", "--project", "faults", ...(ci ? CI_SUBSET : []), ...passThrough], {
  stdio: "inherit",
  env: { ...process.env, FAULTS_REPORT: report, NATS_SERVER_BIN: nats.path },
});
const rows = existsSync(report) ? readFileSync(report, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
rmSync(dir, { recursive: true, force: true });

const columns = ["scenario", "faults", "published", "delivered", "lost", "duplicated", "crashes"];
const total = { scenario: "total" };
for (const c of columns.slice(1)) total[c] = rows.reduce((n, r) => n + (r[c] ?? 0), 0);
const table = [...rows, total];
const line = (cells) => `| ${cells.join(" | ")} |`;
console.log("\nFault and hostile-input summary\n");
console.log(line(columns));
console.log(line(columns.map((c, i) => (i === 0 ? "---" : "---:"))));
for (const r of table) console.log(line(columns.map((c) => (c === "scenario" && r === total ? "**total**" : String(r[c] ?? 0)))));
const bad = total.lost + total.duplicated + total.crashes;
console.log(`\n${rows.length} scenarios; lost ${total.lost}, duplicated ${total.duplicated}, crashes ${total.crashes}${ci ? " (CI subset)" : ""}; nats-server ${natsVersion}; ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(run.status !== 0 ? run.status ?? 1 : bad > 0 || rows.length === 0 ? 1 : 0);

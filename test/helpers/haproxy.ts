/**
 * A real HAProxy running the production overlay's config (k8s/overlays/production/haproxy.cfg),
 * on loopback with random ports. The config is the committed file with one documented
 * transformation, addresses and ports only:
 *   - `bind :8080` (clients) and `bind :8081` (health) listen on 127.0.0.1 at free ports;
 *   - the `server-template` that fills servers from the headless Service's DNS SRV records is
 *     replaced by one static `server` line per test node, in the same order, with the same
 *     `default-server` settings (checks on /readyz, consistent hash, balance factor);
 *   - with `statsSocket`, a `stats socket` line in `global` (the test's only addition), through
 *     which startHaproxy waits until every node has passed its /readyz check: HAProxy 3.0 sends
 *     traffic only to servers whose first check passed, 2.6 to every server at once.
 * Everything else (balance, hash, limits, timeouts, stick-table) is what production runs. Each
 * substitution must match exactly once, so a change of the production file that would make the
 * test run something else fails here, by name.
 *
 * The binary is `haproxy` on PATH (Debian's 2.6 on the CI machine: .ci/run installs it), or
 * HAPROXY_BIN.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/dev/embedded-nats.js";

export const PRODUCTION_HAPROXY_CFG = new URL("../../k8s/overlays/production/haproxy.cfg", import.meta.url).pathname;
export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? "haproxy";

/** `haproxy -v`'s first line, or a clear error when HAProxy is missing. */
export function haproxyVersion(): string {
  const r = spawnSync(HAPROXY_BIN, ["-v"], { encoding: "utf8" });
  if (r.error !== undefined) throw new Error(`${HAPROXY_BIN} not found (apt-get install haproxy, or set HAPROXY_BIN): ${r.error.message}`);
  return r.stdout.split("\n")[0]!;
}

/** `haproxy -c -f <file>`: whether the config parses, with HAProxy's own messages. */
export function checkConfig(file: string): { valid: boolean; output: string } {
  haproxyVersion();
  const r = spawnSync(HAPROXY_BIN, ["-c", "-f", file], { encoding: "utf8" });
  return { valid: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags.replace("g", "")}g`));
  if (matches?.length !== 1) throw new Error(`haproxy.cfg: expected exactly one line matching ${pattern}, found ${matches?.length ?? 0}`);
  return text.replace(pattern, replacement);
}

/** The production config with the test's addresses and ports (the transformation above). */
export function testConfig(source: string, ports: { client: number; health: number; servers: readonly number[]; statsSocket?: string }): string {
  let cfg = replaceOnce(source, /^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${ports.client}`);
  if (ports.statsSocket !== undefined) cfg = replaceOnce(cfg, /^global$/m, `global\n    stats socket ${ports.statsSocket} level admin`);
  cfg = replaceOnce(cfg, /^(\s*)bind :8081$/m, `$1bind 127.0.0.1:${ports.health}`);
  const servers = ports.servers.map((p, i) => `    server gw${i + 1} 127.0.0.1:${p}`).join("\n");
  return replaceOnce(cfg, /^\s*server-template gw \d+ _ws\._tcp\.\S+$/m, servers);
}

export interface TestHaproxy {
  readonly port: number;
  readonly healthPort: number;
  readonly child: ChildProcess;
  /** HAProxy's stdout and stderr (its log lines: `log stdout`). */
  readonly output: string[];
  stop(): Promise<void>;
}

/** `nofile`: run under `ulimit -n <nofile>` (a small descriptor budget, to make exhaustion cheap). */
export async function startHaproxy(servers: readonly number[], options: { nofile?: number } = {}): Promise<TestHaproxy> {
  haproxyVersion();
  const [port, healthPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "sms-ws-haproxy-"));
  const file = join(dir, "haproxy.cfg");
  const statsSocket = join(dir, "stats.sock");
  writeFileSync(file, testConfig(readFileSync(PRODUCTION_HAPROXY_CFG, "utf8"), { client: port, health: healthPort, servers, statsSocket }));
  const args = ["-db", "-f", file];
  const child =
    options.nofile === undefined
      ? spawn(HAPROXY_BIN, args, { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("bash", ["-c", `ulimit -n ${options.nofile} && exec "$0" "$@"`, HAPROXY_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => void output.push(...chunk.toString().split("\n").filter((l) => l !== ""));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Up when its monitor URI answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${output.join("\n")}`);
    const up = await fetch(`http://127.0.0.1:${healthPort}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up && (await serversUp(statsSocket)) === servers.length) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not answer on its health port with every node UP: ${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, healthPort, child, output, stop };
}

/** How many app-pool servers HAProxy reports UP (`show stat` on its stats socket); 0 on any error. */
function serversUp(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    let text = "";
    const c = createConnection(socketPath, () => c.end("show stat\n"));
    c.setTimeout(1000, () => c.destroy());
    c.on("data", (d) => (text += d.toString()));
    c.on("error", () => resolve(0));
    c.on("close", () => {
      // CSV: pxname, svname, ..., status (the 18th field).
      const rows = text.split("\n").map((l) => l.split(","));
      resolve(rows.filter((r) => r[0] === "app-pool" && r[1] !== "BACKEND" && r[1] !== "FRONTEND" && r[17] === "UP").length);
    });
  });
}

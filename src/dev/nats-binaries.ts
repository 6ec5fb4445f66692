/**
 * Which nats-server (and `nats` CLI) a local run uses: the versions pinned in versions.json at the
 * repository root, built by `go install` into the cache (.ci/run does it when missing).
 *
 * nats-server: $NATS_SERVER_BIN if set, else the pinned build in the cache when its `--version`
 * is the pin, else `nats-server` on the PATH (the floor, Debian's 2.9.10) with one warning.
 * nats (natscli): $NATS_CLI_BIN if set, else the pinned build in the cache; no PATH fallback.
 *
 * The cache is ${XDG_CACHE_HOME:-$HOME/.cache}/sms-ws-gateway/go-bin.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface NatsPins {
  readonly natsServer: string;
  readonly natscli: string;
  readonly natsServerFloor: string;
}

export interface ResolvedBinary {
  readonly path: string;
  /** env: from the variable; pinned: the cache build at the pin; path: whatever is on the PATH. */
  readonly source: "env" | "pinned" | "path";
}

// src/dev/ and dist/dev/ are both two levels below the repository root.
const VERSIONS_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "versions.json");

/** The pins, or null where versions.json is not shipped (the Docker image has dist/ only). */
export function natsPins(file = VERSIONS_FILE): NatsPins | null {
  if (!existsSync(file)) return null;
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const field = (name: string): string => {
    const v = raw[name];
    if (typeof v !== "string" || !/^v\d+\.\d+\.\d+$/.test(v)) throw new Error(`${file}: "${name}" must be a version like v2.15.3, got ${JSON.stringify(v)}`);
    return v;
  };
  return { natsServer: field("nats-server"), natscli: field("natscli"), natsServerFloor: field("nats-server-floor") };
}

export function goBinCache(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(base, "sms-ws-gateway", "go-bin");
}

/** The version a binary reports (`nats-server --version` -> "nats-server: v2.15.3"; `nats --version` -> "v0.5.0"). */
export function binaryVersion(path: string): string | null {
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) return null;
  return /v\d+\.\d+\.\d+\S*/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? null;
}

function pinnedBuild(name: string, version: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (version === undefined) return null;
  const path = join(goBinCache(env), name);
  return existsSync(path) && binaryVersion(path) === version ? path : null;
}

/** The resolution order, without side effects: `warning` is set for the PATH fallback. */
export function resolveNatsServer(env: NodeJS.ProcessEnv, pins: NatsPins | null): ResolvedBinary & { warning?: string } {
  if (env.NATS_SERVER_BIN) return { path: env.NATS_SERVER_BIN, source: "env" };
  const pinned = pinnedBuild("nats-server", pins?.natsServer, env);
  if (pinned) return { path: pinned, source: "pinned" };
  if (pins === null) return { path: "nats-server", source: "path" };
  return {
    path: "nats-server",
    source: "path",
    warning:
      `warning: nats-server ${pins.natsServer} (versions.json) is not built in ${goBinCache(env)}; using nats-server from the PATH. ` +
      `Build it: GOBIN=${goBinCache(env)} go install github.com/nats-io/nats-server/v2@${pins.natsServer} (or set NATS_SERVER_BIN)`,
  };
}

let server: ResolvedBinary | undefined;

/** Resolved once per process; the PATH fallback warns once, on stderr. */
export function natsServerBinary(): ResolvedBinary {
  if (server) return server;
  const { warning, ...resolved } = resolveNatsServer(process.env, natsPins());
  if (warning) process.stderr.write(`${warning}\n`);
  server = resolved;
  return server;
}

/** The pinned `nats` CLI; throws (never skips) when it is not built. */
export function natsCliBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_CLI_BIN) return env.NATS_CLI_BIN;
  const pins = natsPins();
  const pinned = pinnedBuild("nats", pins?.natscli, env);
  if (pinned) return pinned;
  throw new Error(
    `the nats CLI ${pins?.natscli ?? "(versions.json missing)"} is not built in ${goBinCache(env)}: ` +
      `GOBIN=${goBinCache(env)} go install github.com/nats-io/natscli/nats@${pins?.natscli ?? "<version>"} (.ci/run does it), or set NATS_CLI_BIN`,
  );
}

/**
 * The one module that loads uWebSockets.js, and refuses to serve where it cannot be native.
 *
 * Production: the dependency `uWebSockets.js` is the npm alias @btc-vision/uwebsockets.js@20.57.0
 * (docs/runtime.md: provenance). Its loader requires `uws_<platform>_<arch>_<ABI>.node` and throws
 * at require time when that fails (another Node major, musl, a glibc older than 2.38). Nothing
 * else imports it at run time (only `import type`), so the commands that serve nothing (`--help`,
 * `token`, `keys`, `publish`, `conns`...) work on any runtime, and `serve`/`dev` stop with our
 * message instead of the package's stack.
 *
 * Development: when the production binary cannot load, the process is not a production install
 * (NODE_ENV is not "production") and the devDependency `uws-dev-fallback` (the old uWS 20.30 fork,
 * whose Node 20 binary needs only glibc 2.27) is installed, that one is used, with one warning
 * line. `npm ci --omit=dev` never installs it, so the image cannot fall back.
 *
 * The old fork's own loader silently returns a JavaScript shim when its binary does not load; the
 * shim answers HTTP but crashes on the first WebSocket upgrade. So whatever is loaded must have a
 * native `App`, or the node does not start.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { sep } from "node:path";
import type * as Uws from "uWebSockets.js";
import { UnsupportedRuntimeError } from "../errors.js";

export type UwsModule = typeof Uws;

/** The production package (an npm alias) and the development-only fallback (a devDependency alias). */
export const UWS_PACKAGE = "uWebSockets.js";
export const UWS_DEV_FALLBACK = "uws-dev-fallback";

/** Node's module ABI (process.versions.modules) per Node major, for readable messages. */
const NODE_MAJOR_OF_ABI: Readonly<Record<string, string>> = {
  "93": "16",
  "108": "18",
  "115": "20",
  "120": "21",
  "127": "22",
  "131": "23",
  "137": "24",
  "141": "25",
  "147": "26",
};

/** The Node major the image and CI run (Dockerfile NODE_IMAGE, .ci/run): the tested pairing. */
export const TESTED_NODE_MAJOR = "24";
/** The oldest glibc the production binaries load on (their highest GLIBC_ symbol version). */
export const MIN_GLIBC = "2.38";

export interface UwsRuntime {
  /** The native binary is loaded. */
  native: boolean;
  nodeVersion: string;
  abi: string;
  platform: string;
  arch: string;
  /** glibc version at run time; undefined on musl and non-Linux platforms. */
  glibc: string | undefined;
  /** Installed production package name and version (the alias target). */
  packageName: string;
  packageVersion: string;
  /** ABIs with a production binary for this platform and arch, ascending. */
  binaryAbis: readonly string[];
  /** Why loading failed: the loader's own last line (a dlopen error, usually). */
  loadError?: string | undefined;
  /** Why the development fallback was not used, when it was not. */
  fallback?: string | undefined;
}

export function isNativeUws(mod: unknown): boolean {
  if (typeof mod !== "object" || mod === null) return false;
  const app = (mod as { App?: unknown }).App;
  return typeof app === "function" && Function.prototype.toString.call(app).includes("[native code]");
}

function glibcVersion(): string | undefined {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime;
}

const require = createRequire(import.meta.url);

/** The installed folder of a package, found from its entry point (the alias's exports hide package.json). */
function packageDir(name: string): string | undefined {
  try {
    const entry = require.resolve(name);
    const marker = `${sep}node_modules${sep}${name}${sep}`;
    const at = entry.lastIndexOf(marker);
    return at < 0 ? undefined : entry.slice(0, at + marker.length - 1);
  } catch {
    return undefined;
  }
}

function installedPackage(platform: string, arch: string): { name: string; version: string; binaryAbis: string[] } {
  const dir = packageDir(UWS_PACKAGE);
  if (dir === undefined) return { name: UWS_PACKAGE, version: "not installed", binaryAbis: [] };
  try {
    const pkg = require(`${dir}${sep}package.json`) as { name?: string; version?: string };
    const prefix = `uws_${platform}_${arch}_`;
    const binaryAbis = readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && f.endsWith(".node"))
      .map((f) => f.slice(prefix.length, -".node".length))
      .sort((a, b) => Number(a) - Number(b));
    return { name: pkg.name ?? UWS_PACKAGE, version: pkg.version ?? "?", binaryAbis };
  } catch {
    return { name: UWS_PACKAGE, version: "?", binaryAbis: [] };
  }
}

/** What is loaded (or failed to), and on what. */
export function inspectUwsRuntime(mod: unknown, facts: Pick<UwsRuntime, "loadError" | "fallback"> = {}): UwsRuntime {
  const { platform, arch } = process;
  const pkg = installedPackage(platform, arch);
  return {
    native: isNativeUws(mod),
    nodeVersion: process.version,
    abi: process.versions.modules,
    platform,
    arch,
    glibc: platform === "linux" ? glibcVersion() : undefined,
    packageName: pkg.name,
    packageVersion: pkg.version,
    binaryAbis: pkg.binaryAbis,
    ...facts,
  };
}

function nodeOf(abi: string): string {
  const major = NODE_MAJOR_OF_ABI[abi];
  return major === undefined ? `ABI ${abi}` : `Node ${major}`;
}

function olderGlibc(version: string, than: string): boolean {
  const [a = 0, b = 0] = version.split(".").map(Number);
  const [c = 0, d = 0] = than.split(".").map(Number);
  return a < c || (a === c && b < d);
}

/** Undefined when the runtime is fine; otherwise the message to stop with. */
export function uwsRuntimeProblem(rt: UwsRuntime): string | undefined {
  if (rt.native) return undefined;
  const libc = rt.platform !== "linux" ? "" : rt.glibc === undefined ? ", no glibc (musl?)" : `, glibc ${rt.glibc}`;
  const runtime = `Node ${rt.nodeVersion} (ABI ${rt.abi}), ${rt.platform}-${rt.arch}${libc}`;
  const shipped =
    rt.binaryAbis.length === 0
      ? `no ${rt.platform}-${rt.arch} binary at all`
      : `${rt.platform}-${rt.arch} binaries for ${rt.binaryAbis.map(nodeOf).join(", ")} only (ABI ${rt.binaryAbis.join(", ")})`;
  let why: string;
  if (!rt.binaryAbis.includes(rt.abi)) {
    why = `The installed uWebSockets.js (${rt.packageName} ${rt.packageVersion}) ships ${shipped}.`;
  } else if (rt.platform === "linux" && (rt.glibc === undefined || olderGlibc(rt.glibc, MIN_GLIBC))) {
    why = `A binary for this ABI exists but needs glibc ${MIN_GLIBC} or later (musl/Alpine cannot load it).`;
  } else {
    why = `A binary for this ABI exists but did not load.`;
  }
  const detail = [rt.loadError === undefined ? "" : ` The loader said: ${rt.loadError}.`, rt.fallback === undefined ? "" : ` ${rt.fallback}`].join("");
  return (
    `uWebSockets.js cannot load its native binary on this runtime (${runtime}), so the node will not start. ` +
    `${why} The gateway needs Node ${TESTED_NODE_MAJOR} on glibc ${MIN_GLIBC} or later (the image: ` +
    `node:24-trixie-slim, Debian 13).${detail} See the supported table in docs/runtime.md.`
  );
}

/** Throws UnsupportedRuntimeError unless `mod` is the native uWebSockets.js binary. */
export function assertNativeUws(mod: unknown, facts: Pick<UwsRuntime, "loadError" | "fallback"> = {}): void {
  if (isNativeUws(mod)) return;
  const problem = uwsRuntimeProblem(inspectUwsRuntime(mod, facts));
  if (problem !== undefined) throw new UnsupportedRuntimeError(problem);
}

/** The last line of a loader's error: btc's loader prepends a paragraph to the dlopen error. */
function lastLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return (lines.at(-1) ?? text).replace(/^Error: /, "").replace(/\.$/, "");
}

export interface LoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the one warning line goes when the development fallback is used. */
  warn?: (line: string) => void;
  /** The module loader (tests inject one). */
  load?: (name: string) => unknown;
}

let loaded: UwsModule | undefined;

/**
 * The native uWebSockets.js, loaded on first use (the production package, or in a development
 * install the fallback), or UnsupportedRuntimeError with the reason. Cached once it succeeds.
 */
export function loadUws(options: LoadOptions = {}): UwsModule {
  if (loaded !== undefined && options.load === undefined) return loaded;
  const env = options.env ?? process.env;
  const load = options.load ?? require;
  let loadError: string;
  try {
    const mod = load(UWS_PACKAGE);
    assertNativeUws(mod);
    if (options.load === undefined) loaded = mod as UwsModule;
    return mod as UwsModule;
  } catch (err) {
    if (err instanceof UnsupportedRuntimeError) throw err;
    loadError = lastLine(err);
  }
  let fallback: string;
  if (env.NODE_ENV === "production") {
    fallback = "NODE_ENV is production: no development fallback.";
  } else {
    let mod: unknown;
    try {
      mod = load(UWS_DEV_FALLBACK);
    } catch {
      mod = undefined;
    }
    if (mod === undefined) {
      fallback = `The development fallback (${UWS_DEV_FALLBACK}, a devDependency) is not installed.`;
    } else if (!isNativeUws(mod)) {
      fallback = `The development fallback (${UWS_DEV_FALLBACK}, uWS 20.30 for Node 20) is not native here either.`;
    } else {
      (options.warn ?? ((line) => void process.stderr.write(`${line}\n`)))(
        `sms-ws: warning: development fallback uWebSockets.js 20.30 (${UWS_DEV_FALLBACK}) on Node ${process.version}: ` +
          `the production binary does not load here (${loadError}). Never deploy this; see docs/runtime.md.`,
      );
      if (options.load === undefined) loaded = mod as UwsModule;
      return mod as UwsModule;
    }
  }
  throw new UnsupportedRuntimeError(uwsRuntimeProblem(inspectUwsRuntime(undefined, { loadError, fallback })) ?? loadError);
}

/**
 * Refuse to serve on a runtime where uWebSockets.js is not native.
 *
 * The dependency `uWebSockets.js` is the npm alias @trufflesuite/uws-js-unofficial@20.30.0. Its
 * loader (src/uws.js) requires `binaries/uws_<platform>_<arch>_<ABI>.node` and, when that fails
 * (another Node major, musl, a glibc older than the binary needs) or when UWS_USE_FALLBACK is set,
 * silently returns a JavaScript shim instead, after a console warning. The shim cannot upgrade a
 * WebSocket: the process dies on its first client. So the node checks at start-up and exits with
 * a message that names the runtime, instead of passing its readiness probe and crashing later.
 *
 * The signal: the native module's `App` is a native function; the shim's is JavaScript.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import uWS from "uWebSockets.js";
import { UnsupportedRuntimeError } from "../errors.js";

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
};

/** The Node major the image and CI run (Dockerfile NODE_IMAGE, .ci/run): the tested pairing. */
export const TESTED_NODE_MAJOR = "20";

export interface UwsRuntime {
  /** The native binary is loaded. */
  native: boolean;
  /** UWS_USE_FALLBACK asked for the shim. */
  forcedFallback: boolean;
  nodeVersion: string;
  abi: string;
  platform: string;
  arch: string;
  /** glibc version at run time; undefined on musl and non-Linux platforms. */
  glibc: string | undefined;
  /** Installed package name and version (the alias target). */
  packageName: string;
  packageVersion: string;
  /** ABIs with a binary for this platform and arch, ascending. */
  binaryAbis: readonly string[];
}

export function isNativeUws(mod: unknown): boolean {
  if (typeof mod !== "object" || mod === null) return false;
  const app = (mod as { App?: unknown }).App;
  return typeof app === "function" && Function.prototype.toString.call(app).includes("[native code]");
}

function forcedFallback(env: Readonly<Record<string, string | undefined>>): boolean {
  // The same spellings the package's loader accepts.
  return ["true", "True", "TRUE", "1"].includes(env.UWS_USE_FALLBACK ?? "");
}

function glibcVersion(): string | undefined {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime;
}

function installedPackage(platform: string, arch: string): { name: string; version: string; binaryAbis: string[] } {
  const require = createRequire(import.meta.url);
  try {
    const pkg = require("uWebSockets.js/package.json") as { name?: string; version?: string };
    const dir = join(dirname(require.resolve("uWebSockets.js")), "..", "binaries");
    const prefix = `uws_${platform}_${arch}_`;
    const binaryAbis = readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && f.endsWith(".node"))
      .map((f) => f.slice(prefix.length, -".node".length))
      .sort((a, b) => Number(a) - Number(b));
    return { name: pkg.name ?? "uWebSockets.js", version: pkg.version ?? "?", binaryAbis };
  } catch {
    return { name: "uWebSockets.js", version: "?", binaryAbis: [] };
  }
}

/** What is loaded, and on what. */
export function inspectUwsRuntime(mod: unknown = uWS, env: Readonly<Record<string, string | undefined>> = process.env): UwsRuntime {
  const { platform, arch } = process;
  const pkg = installedPackage(platform, arch);
  return {
    native: isNativeUws(mod),
    forcedFallback: forcedFallback(env),
    nodeVersion: process.version,
    abi: process.versions.modules,
    platform,
    arch,
    glibc: platform === "linux" ? glibcVersion() : undefined,
    packageName: pkg.name,
    packageVersion: pkg.version,
    binaryAbis: pkg.binaryAbis,
  };
}

function nodeOf(abi: string): string {
  const major = NODE_MAJOR_OF_ABI[abi];
  return major === undefined ? `ABI ${abi}` : `Node ${major}`;
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
  if (rt.forcedFallback) {
    why = "UWS_USE_FALLBACK is set, which forces the JS fallback: unset it.";
  } else if (rt.binaryAbis.includes(rt.abi)) {
    why =
      `A binary for this ABI exists but did not load: the binaries are built for glibc Linux ` +
      `(they need glibc 2.27 or later; musl/Alpine cannot load them).`;
  } else {
    why =
      `The installed uWebSockets.js (${rt.packageName} ${rt.packageVersion}) ships ${shipped}. ` +
      `Run Node ${TESTED_NODE_MAJOR}, the version the image and CI are tested with; a newer Node needs a ` +
      `uWebSockets.js build for it, and upstream builds for Node 22/24 need glibc 2.38 or later.`;
  }
  return (
    `uWebSockets.js is not native on this runtime (${runtime}). Its JavaScript fallback crashes on the ` +
    `first WebSocket upgrade, so the node will not start. ${why} See docs/runtime.md.`
  );
}

/** Throws UnsupportedRuntimeError unless the native uWebSockets.js binary is loaded. */
export function assertNativeUws(mod: unknown = uWS, env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (isNativeUws(mod)) return;
  const problem = uwsRuntimeProblem(inspectUwsRuntime(mod, env));
  if (problem !== undefined) throw new UnsupportedRuntimeError(problem);
}

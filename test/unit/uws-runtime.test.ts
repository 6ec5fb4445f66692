import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { UnsupportedRuntimeError } from "../../src/errors.js";
import { assertNativeUws, inspectUwsRuntime, isNativeUws, loadUws, uwsRuntimeProblem, type UwsRuntime } from "../../src/runtime/uws-runtime.js";

const require = createRequire(import.meta.url);
// The old fork's JavaScript shim, loaded directly (what its loader returns when no binary loads).
const shim: unknown = require("uws-dev-fallback/dist/index.js");
// Does the production binary load in this process (Node 24 on glibc >= 2.38), or not (Node 20 on Debian 12)?
const productionLoads = ((): boolean => {
  try {
    return isNativeUws(require("uWebSockets.js"));
  } catch {
    return false;
  }
})();

const node22: UwsRuntime = {
  native: false,
  nodeVersion: "v22.11.0",
  abi: "127",
  platform: "linux",
  arch: "x64",
  glibc: "2.36",
  packageName: "@btc-vision/uwebsockets.js",
  packageVersion: "20.57.0",
  binaryAbis: ["115", "127", "137", "141"],
};

const dlopenError = new Error(
  "This version of uWS.js (v20.57.0) supports only Node.js versions 20, 22, 24 and 25 ...\n\nError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found",
);
// A built-in counts as native code, as the binary's App does.
const nativeApp = Math.max;
const loaderOf =
  (modules: Record<string, unknown>) =>
  (name: string): unknown => {
    const mod = modules[name];
    if (mod instanceof Error) throw mod;
    if (mod === undefined) throw new Error(`Cannot find module '${name}'`);
    return mod;
  };

describe("uWebSockets.js runtime check", () => {
  it("tells a native binary from a JavaScript implementation", () => {
    expect(isNativeUws(loadUws())).toBe(true);
    expect(isNativeUws(shim)).toBe(false);
    expect(isNativeUws({ App: () => {} })).toBe(false);
    expect(isNativeUws({ App: nativeApp })).toBe(true);
    expect(isNativeUws({})).toBe(false);
    expect(isNativeUws(null)).toBe(false);
  });

  it("loads the production binary where it loads, the development fallback (with one warning line) elsewhere", () => {
    const warnings: string[] = [];
    const mod = loadUws({ env: {}, warn: (l) => warnings.push(l), load: require });
    expect(isNativeUws(mod)).toBe(true);
    if (productionLoads) {
      expect(mod).toBe(require("uWebSockets.js"));
      expect(warnings).toEqual([]);
    } else {
      expect(mod).toBe(require("uws-dev-fallback"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^sms-ws: warning: development fallback uWebSockets\.js 20\.30 .*Never deploy this/);
    }
  });

  it("stops with UnsupportedRuntimeError, naming the runtime, when a non-native module is injected", () => {
    let caught: unknown;
    try {
      assertNativeUws(shim);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnsupportedRuntimeError);
    expect((caught as UnsupportedRuntimeError).code).toBe("RUNTIME_UNSUPPORTED");
    expect((caught as Error).message).toContain(`Node ${process.version} (ABI ${process.versions.modules})`);
    expect((caught as Error).message).toContain("docs/runtime.md");
    expect(() => loadUws({ env: {}, load: loaderOf({ "uWebSockets.js": shim }) })).toThrow(UnsupportedRuntimeError);
  });

  it("uses the fallback only in a development install, and only when it is native", () => {
    const warnings: string[] = [];
    const fallback = { App: nativeApp };
    const load = loaderOf({ "uWebSockets.js": dlopenError, "uws-dev-fallback": fallback });
    expect(loadUws({ env: {}, warn: (l) => warnings.push(l), load })).toBe(fallback);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("GLIBC_2.38' not found");

    expect(() => loadUws({ env: { NODE_ENV: "production" }, load })).toThrow(/NODE_ENV is production: no development fallback/);
    const absent = loaderOf({ "uWebSockets.js": dlopenError });
    expect(() => loadUws({ env: {}, load: absent })).toThrow(/uws-dev-fallback, a devDependency\) is not installed/);
    const notNative = loaderOf({ "uWebSockets.js": dlopenError, "uws-dev-fallback": shim });
    expect(() => loadUws({ env: {}, load: notNative })).toThrow(/not native here either/);
    // The loader's paragraph is dropped; its dlopen line is kept.
    expect(() => loadUws({ env: {}, load: absent })).toThrow(/The loader said: \/lib\/x86_64-linux-gnu\/libc\.so\.6: version `GLIBC_2\.38' not found\./);
  });

  it("describes the runtime it runs on", () => {
    const rt = inspectUwsRuntime(loadUws());
    expect(rt.native).toBe(true);
    expect(rt.packageName).toBe("@btc-vision/uwebsockets.js");
    expect(rt.packageVersion).toBe("20.57.0");
    expect(rt.binaryAbis).toEqual(["115", "127", "137", "141"]);
    expect(uwsRuntimeProblem(rt)).toBeUndefined();
  });

  it("names the Node version, the ABI, the glibc it needs and the way out", () => {
    const msg = uwsRuntimeProblem(node22) ?? "";
    expect(msg).toContain("Node v22.11.0 (ABI 127), linux-x64, glibc 2.36");
    expect(msg).toContain("needs glibc 2.38 or later");
    expect(msg).toContain("The gateway needs Node 24 on glibc 2.38 or later");
    expect(msg).toContain("docs/runtime.md");
  });

  it("says why: musl, no binary for this Node (26), no binary for the platform, or a binary that did not load", () => {
    expect(uwsRuntimeProblem({ ...node22, glibc: undefined })).toMatch(/no glibc \(musl\?\).*needs glibc 2\.38 or later \(musl/);
    expect(uwsRuntimeProblem({ ...node22, nodeVersion: "v26.12.1", abi: "147" })).toContain(
      "ships linux-x64 binaries for Node 20, Node 22, Node 24, Node 25 only (ABI 115, 127, 137, 141)",
    );
    expect(uwsRuntimeProblem({ ...node22, platform: "freebsd", glibc: undefined, binaryAbis: [] })).toMatch(/freebsd-x64\),.*no freebsd-x64 binary at all/);
    expect(uwsRuntimeProblem({ ...node22, abi: "999", binaryAbis: ["999x"] })).toContain("ABI 999x");
    expect(uwsRuntimeProblem({ ...node22, glibc: "2.41", loadError: "loading addons is disabled" })).toMatch(
      /exists but did not load\..*The loader said: loading addons is disabled\./,
    );
  });
});

import { createRequire } from "node:module";
import uWS from "uWebSockets.js";
import { describe, expect, it } from "vitest";
import { UnsupportedRuntimeError } from "../../src/errors.js";
import { assertNativeUws, inspectUwsRuntime, isNativeUws, uwsRuntimeProblem, type UwsRuntime } from "../../src/runtime/uws-runtime.js";

// The package's JavaScript shim, loaded directly (what its loader falls back to).
const fallback: unknown = createRequire(import.meta.url)("uWebSockets.js/dist/index.js");

const node22: UwsRuntime = {
  native: false,
  forcedFallback: false,
  nodeVersion: "v22.11.0",
  abi: "127",
  platform: "linux",
  arch: "x64",
  glibc: "2.36",
  packageName: "@trufflesuite/uws-js-unofficial",
  packageVersion: "20.30.0-unofficial.0",
  binaryAbis: ["93", "108", "115"],
};

describe("uWebSockets.js runtime check", () => {
  it("tells the native binary from the JavaScript fallback", () => {
    expect(isNativeUws(uWS)).toBe(true);
    expect(isNativeUws(fallback)).toBe(false);
    expect(isNativeUws({ App: () => {} })).toBe(false);
    expect(isNativeUws({})).toBe(false);
    expect(isNativeUws(null)).toBe(false);
  });

  it("passes on the tested runtime", () => {
    expect(() => assertNativeUws()).not.toThrow();
    const rt = inspectUwsRuntime();
    expect(rt.native).toBe(true);
    expect(rt.binaryAbis).toContain(rt.abi);
    expect(uwsRuntimeProblem(rt)).toBeUndefined();
  });

  it("stops with UnsupportedRuntimeError when the fallback is loaded", () => {
    let caught: unknown;
    try {
      assertNativeUws(fallback, { UWS_USE_FALLBACK: "1" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnsupportedRuntimeError);
    expect((caught as UnsupportedRuntimeError).code).toBe("RUNTIME_UNSUPPORTED");
    expect((caught as Error).message).toMatch(/UWS_USE_FALLBACK is set/);
    expect((caught as Error).message).toContain(`ABI ${process.versions.modules}`);
  });

  it("names the Node version, the ABI, what the package ships and the way out", () => {
    const msg = uwsRuntimeProblem(node22) ?? "";
    expect(msg).toContain("Node v22.11.0 (ABI 127), linux-x64, glibc 2.36");
    expect(msg).toContain("binaries for Node 16, Node 18, Node 20 only (ABI 93, 108, 115)");
    expect(msg).toContain("Run Node 20");
    expect(msg).toContain("glibc 2.38");
    expect(msg).toContain("docs/runtime.md");
  });

  it("says why a binary for this ABI did not load (musl), and handles a missing platform", () => {
    expect(uwsRuntimeProblem({ ...node22, abi: "115", nodeVersion: "v20.20.2", glibc: undefined })).toMatch(/no glibc \(musl\?\).*exists but did not load/);
    expect(uwsRuntimeProblem({ ...node22, platform: "freebsd", glibc: undefined, binaryAbis: [] })).toMatch(/freebsd-x64\)\..*no freebsd-x64 binary at all/);
    expect(uwsRuntimeProblem({ ...node22, abi: "999", binaryAbis: ["999x"] })).toContain("ABI 999x");
  });
});

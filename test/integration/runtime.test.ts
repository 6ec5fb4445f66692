/**
 * The real CLI refuses to serve on the uWebSockets.js JavaScript fallback (which would crash on
 * its first WebSocket upgrade): exit code 1 and a message naming the runtime, before any port or
 * NATS connection is opened. Runs the built CLI (`npm test` builds first).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assertNativeUws } from "../../src/runtime/uws-runtime.js";

const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  // NATS_URL points at a closed port: the check must come before any connection attempt.
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NATS_URL: "nats://127.0.0.1:9", HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

describe("runtime check", () => {
  it("the CLI is built", () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run -s build`).toBe(true);
  });

  it.each([["serve"], ["dev"]])("`sms-ws %s` exits 1 with the reason when uWS runs its JS fallback", async (command) => {
    const r = await run([command], { UWS_USE_FALLBACK: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sms-ws: uWebSockets.js is not native on this runtime");
    expect(r.stderr).toContain(`Node ${process.version} (ABI ${process.versions.modules})`);
    expect(r.stderr).toContain("UWS_USE_FALLBACK is set");
    // `dev` stops before starting a local nats-server, `serve` before connecting or listening.
    expect(r.stdout).not.toMatch(/nats-server|listening/);
  });

  it("passes where the native binary loads (this test process)", () => {
    expect(() => assertNativeUws()).not.toThrow();
  });
});

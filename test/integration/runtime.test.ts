/**
 * The real CLI on a runtime where no uWebSockets.js binary loads (`node --no-addons`: every
 * native add-on fails to load, the production package's and the development fallback's alike):
 * `serve` and `dev` exit 1 with our message before any port or NATS connection is opened, while
 * the commands that serve nothing (`--help`, `token`) still work, since nothing imports uWS
 * eagerly. Runs the built CLI (`npm test` builds first); every child is killed on timeout.
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const CHILD_TIMEOUT_MS = 20_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(nodeArgs: string[], args: string[], env: Record<string, string> = {}): Promise<Run> {
  // NATS_URL points at a closed port: the check must come before any connection attempt.
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env: { ...process.env, NATS_URL: "nats://127.0.0.1:9", HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  // A child that does not stop by itself is a failure, never an orphan.
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "smsws-runtime-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runtime check", () => {
  it("the CLI is built", () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run -s build`).toBe(true);
  });

  it.each([["serve"], ["dev"]])("`sms-ws %s` exits 1 with our reason when no uWS binary can load", async (command) => {
    const r = await run(["--no-addons"], [command]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sms-ws: uWebSockets.js cannot load its native binary on this runtime");
    expect(r.stderr).toContain(`Node ${process.version} (ABI ${process.versions.modules})`);
    expect(r.stderr).toContain("The gateway needs Node 24 on glibc 2.38 or later");
    expect(r.stderr).toContain("loading addons is disabled");
    // Not the package's loader text and stack.
    expect(r.stderr).not.toMatch(/This version of uWS\.js|\n\s+at /);
    // `dev` stops before starting a local nats-server, `serve` before connecting or listening.
    expect(r.stdout).not.toMatch(/nats-server|listening/);
  });

  it("a production install never falls back: NODE_ENV=production names that", async () => {
    const r = await run(["--no-addons"], ["serve"], { NODE_ENV: "production" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("NODE_ENV is production: no development fallback");
  });

  it("`--help` and `token` work where no uWS binary can load", async () => {
    const help = await run(["--no-addons"], ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("sms-ws serve");

    const { privateKey } = generateKeyPairSync("ed25519");
    const keyFile = join(dir, "signer.pem");
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const token = await run(["--no-addons"], ["token", "--signer-key", keyFile, "--kid", "k1", "--tenant", "t1", "--app", "a1", "--ttl", "15m"]);
    expect(token.stderr).toBe("");
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});

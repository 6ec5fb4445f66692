/**
 * A rehearsal of the container image's runtime stage, since the image cannot be built here: the
 * Dockerfile's runtime-stage COPY lines are read and their sources assembled in a temporary
 * directory (the production dependency tree of package-lock.json, copied from node_modules, as
 * `npm ci --omit=dev` in the deps stage would install it; dist/ from the build; package.json),
 * the directory is made read-only (the pod runs with readOnlyRootFilesystem), and `node
 * dist/cli/main.js serve` runs from there against a real, permissioned nats-server: ready,
 * delivers an event, exits 0 on SIGTERM. A file the runtime needs but the image lacks fails here.
 * On a runtime where the production uWS binary cannot load (Node 20 on Debian 12, the development
 * machines), the same files must refuse to serve with our message and exit 1: the image holds no
 * development fallback. CI runs this file on both (.ci/run); scripts/image.sh runs the real image.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/dev/embedded-nats.js";
import { publishEvent } from "../../src/publisher/index.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

const ROOT = resolve(__dirname, "../..");
/** Node 24 on glibc >= 2.38 loads the production binary; elsewhere the rehearsed image must refuse. */
const productionLoads = ((): boolean => {
  try {
    const app: unknown = (createRequire(import.meta.url)("uWebSockets.js") as { App?: unknown }).App;
    return typeof app === "function";
  } catch {
    return false;
  }
})();

interface CopyLine {
  from: string | undefined;
  src: string;
  dest: string;
}

/** The COPY lines of the stage named `stage` (multi-line continuations are not used there). */
function runtimeCopies(dockerfile: string, stage = "runtime"): CopyLine[] {
  const lines = dockerfile.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${stage}\\s*$`, "i").test(l.trim()));
  if (start < 0) throw new Error(`no stage "${stage}" in the Dockerfile`);
  const out: CopyLine[] = [];
  for (const line of lines.slice(start + 1)) {
    const l = line.trim();
    if (/^FROM\s/i.test(l)) break;
    const m = /^COPY\s+(?:--from=(\S+)\s+)?(?:--\S+\s+)*(.+)$/i.exec(l);
    if (m === null) continue;
    const parts = (m[2] as string).split(/\s+/);
    const dest = parts.pop() as string;
    for (const src of parts) out.push({ from: m[1], src, dest });
  }
  return out;
}

/** node_modules paths of the packages `npm ci --omit=dev` installs, from package-lock.json. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith("node_modules/") && p.dev !== true && p.devOptional !== true)
    .filter(([path, p]) => p.optional !== true || existsSync(join(ROOT, path)))
    .map(([path]) => path);
}

/** Copy one package folder without its nested node_modules (those are packages of their own). */
function copyPackage(path: string, image: string): void {
  const from = join(ROOT, path);
  if (!existsSync(from)) throw new Error(`the image needs ${path} (package-lock.json) but it is not installed`);
  cpSync(from, join(image, path), {
    recursive: true,
    dereference: true,
    filter: (src) => !relative(from, src).split(sep).includes("node_modules"),
  });
}

/** Assemble what the runtime stage's COPY lines put in /app. */
function assemble(image: string): string[] {
  const copies = runtimeCopies(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  const done: string[] = [];
  for (const c of copies) {
    const key = `${c.from ?? "context"}:${c.src}`;
    if (c.from === "deps" && c.src === "/app/node_modules") {
      for (const path of productionPackages()) copyPackage(path, image);
    } else if (c.from === "build" && c.src === "/app/dist") {
      if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is not built: npm run build first");
      cpSync(join(ROOT, "dist"), join(image, c.dest), { recursive: true });
    } else if (c.from === undefined) {
      const dest = c.dest.endsWith("/") ? join(image, c.dest, c.src) : join(image, c.dest);
      cpSync(join(ROOT, c.src), dest, { recursive: true });
    } else {
      throw new Error(`the rehearsal does not know how to assemble ${key}: teach it (test/integration/image-rehearsal.test.ts)`);
    }
    done.push(key);
  }
  return done;
}

function walk(dir: string, fn: (path: string) => void): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    fn(path);
    if (statSync(path).isDirectory()) walk(path, fn);
  }
}

let nats: TestNats;
let producer: Producer;
let image: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
  image = mkdtempSync(join(tmpdir(), "smsws-image-"));
});

afterAll(async () => {
  if (child?.exitCode === null) child.kill("SIGKILL");
  if (image !== undefined) {
    walk(image, (p) => chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644));
    chmodSync(image, 0o755);
    rmSync(image, { recursive: true, force: true });
  }
  await producer?.close();
  await nats?.stop();
});

describe("image rehearsal: the Dockerfile's runtime stage, read-only", () => {
  it("reads the runtime stage's COPY lines", () => {
    const copies = runtimeCopies(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    expect(copies.map((c) => `${c.from ?? "context"}:${c.src}`)).toEqual(["deps:/app/node_modules", "context:package.json", "build:/app/dist"]);
  });

  it(`${productionLoads ? "serves from exactly those files: ready, delivers an event, exits 0 on SIGTERM" : "refuses, with exactly those files, to serve where the production uWS cannot load: exit 1, no fallback"}`, async () => {
    assemble(image);
    // No dev dependency made it in.
    expect(existsSync(join(image, "node_modules/vitest"))).toBe(false);
    expect(existsSync(join(image, "node_modules/typescript"))).toBe(false);
    expect(existsSync(join(image, "src"))).toBe(false);
    expect(existsSync(join(image, "node_modules/uws-dev-fallback"))).toBe(false);
    // Only this runtime's uWS binary, as the deps stage prunes it (scripts/image-prune-uws.mjs).
    const prune = spawnSync(process.execPath, [join(ROOT, "scripts/image-prune-uws.mjs"), join(image, "node_modules")], { encoding: "utf8" });
    expect(prune.status, prune.stderr).toBe(0);
    const kept = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    expect(readdirSync(join(image, "node_modules/uWebSockets.js")).filter((f) => f.endsWith(".node"))).toEqual([kept]);
    walk(image, (p) => chmodSync(p, statSync(p).mode & ~0o222));
    chmodSync(image, statSync(image).mode & ~0o222);

    const apiKey = await producer.key({ role: "app", tenantId: "img", appId: "a" });
    const port = await freePort();
    const logs: string[] = [];
    child = spawn(process.execPath, ["dist/cli/main.js", "serve"], {
      cwd: image,
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        ...nats.nodeEnv(),
        HOST: "127.0.0.1",
        PORT: String(port),
        METRICS_PORT: "0",
        DRAIN_DELAY_MS: "0",
        DRAIN_WINDOW_MS: "100",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => logs.push(d.toString()));
    child.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));
    if (!productionLoads) {
      expect(await exited).toBe(1);
      expect(logs.join("")).toContain("sms-ws: uWebSockets.js cannot load its native binary on this runtime");
      expect(logs.join("")).toContain("NODE_ENV is production: no development fallback");
      return;
    }
    const http = `http://127.0.0.1:${port}`;
    await pollUntil(
      async () => {
        if (child?.exitCode !== null) throw new Error(`serve exited ${child?.exitCode}: ${logs.join("")}`);
        return (await fetch(`${http}/readyz`).catch(() => undefined))?.status === 200;
      },
      20_000,
      "/readyz 200 from the rehearsed image",
      50,
    );
    const client = await TestClient.authed(`ws://127.0.0.1:${port}/ws`, apiKey);
    await publishEvent(producer.nc, { type: "sms_status", tenantId: "img", appId: "a", messageId: "m-img", status: "delivered" });
    await client.waitForEvents(1);
    expect(client.events()[0]).toMatchObject({ type: "sms_status", messageId: "m-img" });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    await pollUntil(() => client.closed !== undefined, 5000, "socket closed by the drain");
    expect(client.closed?.code).toBe(1001);
    expect(logs.join("")).not.toMatch(/"level":(50|60)/);
  });
});

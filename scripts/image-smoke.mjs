#!/usr/bin/env node
// Smoke-run an unpacked image rootfs (scripts/image.sh) as a container runtime would, without one:
// bwrap with the rootfs read-only, uid/gid 1000, tini as PID 1 of a new PID namespace, a clean
// environment, the host's loopback network. Against a real nats-server on 127.0.0.1 (random port),
// using the image's own CLI: `provision`, `keys create`, `serve`; then /healthz, /readyz, one
// WebSocket client authenticated with the key, one event published with the image's `publish`
// and delivered to it, and SIGTERM to PID 1: the drain closes the socket with 1001 and the
// sandbox exits 0. Every child is stopped on the way out. Usage: image-smoke.mjs <rootfs>
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";

const rootfs = process.argv[2];
if (!rootfs) throw new Error("usage: image-smoke.mjs <rootfs>");
const DEADLINE_MS = 30_000;
const children = new Set();
const scratch = mkdtempSync(join(tmpdir(), "smsws-image-smoke-"));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** The image's entrypoint and command under bwrap; fd 3 carries bwrap's JSON status (child-pid). */
function sandbox(cmd, env) {
  const args = ["--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    "--unshare-pid", "--as-pid-1", "--unshare-user", "--uid", "1000", "--gid", "1000", "--die-with-parent",
    "--chdir", "/app", "--clearenv", "--json-status-fd", "3",
    "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--setenv", "NODE_ENV", "production"];
  for (const [k, v] of Object.entries(env)) args.push("--setenv", k, v);
  args.push("/usr/bin/tini", "--", "node", "dist/cli/main.js", ...cmd);
  const child = spawn("bwrap", args, { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let status = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  child.stdio[3].on("data", (d) => (status += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => { children.delete(child); resolve({ code, signal }); }));
  const pid1 = () => { const m = /"child-pid": *(\d+)/.exec(status); return m ? Number(m[1]) : undefined; };
  return { child, exited, output: () => out, pid1 };
}

async function runOnce(cmd, env) {
  const s = sandbox(cmd, env);
  const timer = setTimeout(() => s.child.kill("SIGKILL"), DEADLINE_MS);
  const { code } = await s.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${s.output()}`);
  return s.output();
}

async function until(what, fn) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50)); // poll interval, bounded by the deadline
  }
}

async function main() {
  const natsPort = await freePort();
  const nats = spawn(process.env.NATS_SERVER_BIN || "nats-server", ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", join(scratch, "js")], { stdio: "ignore" });
  children.add(nats);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  await until("nats-server", () => new Promise((resolve) => {
    const c = connect(natsPort, "127.0.0.1", () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
  }));
  const env = { NATS_URL: natsUrl, LOG_LEVEL: "info" };
  await runOnce(["provision"], env);
  const key = JSON.parse((await runOnce(["keys", "create", "--role", "app", "--tenant", "smoke", "--app", "a1", "--json"], env)).trim().split("\n").at(-1));

  const port = await freePort();
  const serve = sandbox(["serve"], { ...env, HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: "0", DRAIN_DELAY_MS: "0", DRAIN_WINDOW_MS: "200" });
  const http = `http://127.0.0.1:${port}`;
  const healthz = await until("/healthz 200", async () => (await fetch(`${http}/healthz`)).status === 200);
  const readyz = await until("/readyz 200", async () => (await fetch(`${http}/readyz`)).status === 200);

  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const frames = [];
  let closed;
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  ws.on("close", (code) => (closed = code));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  ws.send(JSON.stringify({ type: "auth", apiKey: key.apiKey }));
  await until("auth_ok", async () => frames.some((f) => f.type === "auth_ok"));
  await runOnce(["publish", "--json", JSON.stringify({ type: "sms_status", tenantId: "smoke", appId: "a1", messageId: "m-smoke", status: "delivered" })], env);
  await until("the event", async () => frames.some((f) => f.type === "sms_status" && f.messageId === "m-smoke"));

  const pid1 = serve.pid1();
  if (pid1 === undefined) throw new Error("bwrap reported no child pid");
  const comm = readFileSync(`/proc/${pid1}/comm`, "utf8").trim();
  if (comm !== "tini") throw new Error(`PID 1 of the sandbox is ${comm}, not tini`);
  const uid = /Uid:\s+(\d+)/.exec(readFileSync(`/proc/${pid1}/status`, "utf8"))?.[1];
  process.kill(pid1, "SIGTERM");
  const timer = setTimeout(() => serve.child.kill("SIGKILL"), DEADLINE_MS);
  const { code } = await serve.exited;
  clearTimeout(timer);
  await until("the drain's close", async () => closed !== undefined);
  const logs = serve.output();
  if (code !== 0) throw new Error(`serve exited ${code} on SIGTERM: ${logs}`);
  if (closed !== 1001) throw new Error(`the socket closed with ${closed}, not 1001`);
  if (!/drained/.test(logs)) throw new Error(`no drain in the logs: ${logs}`);
  if (/"level":(50|60)/.test(logs)) throw new Error(`errors in the logs: ${logs}`);
  console.log(`image-smoke: ok: /healthz ${healthz && 200}, /readyz ${readyz && 200}, auth_ok, 1 event delivered, PID 1 tini (host uid ${uid} mapped to 1000), read-only root, SIGTERM -> 1001 close, exit 0`);
}

main()
  .then(() => 0, (err) => { console.error(`image-smoke: FAILED: ${err.message}`); return 1; })
  .then((rc) => {
    for (const c of children) c.kill("SIGKILL");
    rmSync(scratch, { recursive: true, force: true });
    process.exit(rc);
  });

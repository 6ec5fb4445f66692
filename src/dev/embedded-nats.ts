/**
 * Starts a real nats-server (JetStream on, loopback only) in a temporary directory on a free port.
 * Used by `sms-ws dev` and by the tests; stop() kills it and removes its directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsServerBinary } from "./nats-binaries.js";

export interface EmbeddedNats {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
  /** SIGSTOP/SIGCONT the server: a stalled peer, not a closed one. */
  pause(): void;
  resume(): void;
}

export interface EmbeddedNatsOptions {
  port?: number;
  storeDir?: string;
  jetstream?: boolean;
  /** Extra lines for the config file (e.g. a cluster block). */
  args?: string[];
  /** Default: natsServerBinary() (NATS_SERVER_BIN, the pinned build in the cache, or the PATH). */
  binary?: string;
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startNatsServer(options: EmbeddedNatsOptions = {}): Promise<EmbeddedNats> {
  const port = options.port ?? (await freePort());
  const ownDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "smsws-nats-"));
  const binary = options.binary ?? natsServerBinary().path;
  const args = ["-a", "127.0.0.1", "-p", String(port), ...(options.args ?? [])];
  if (options.jetstream !== false) args.push("-js", "-sd", storeDir);
  // Own process group: a terminal's Ctrl-C reaches the node, which stops the server in order.
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      stderr += chunk.toString();
      if (stderr.includes("Server is ready")) {
        child.stderr?.off("data", onData);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.once("error", (err) =>
      reject(
        new Error(
          `cannot start ${binary}: ${err.message}. Install it: apt-get install -y nats-server (or set NATS_SERVER_BIN)`,
        ),
      ),
    );
    child.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${stderr.slice(-2000)}`)));
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      process.off("exit", killOnExit);
      resolve();
    }),
  );
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (!exited) {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exit;
        clearTimeout(timer);
      }
      if (ownDir) rmSync(storeDir, { recursive: true, force: true });
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
  };
}

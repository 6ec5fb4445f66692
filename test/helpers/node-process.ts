/** A gateway node as a real `sms-ws serve` process (for SIGKILL/SIGTERM tests). */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../../src/dev/embedded-nats.js";

const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;

export interface NodeProcess {
  child: ChildProcess;
  port: number;
  url: string;
  http: string;
  /** Log lines (pino msg) with the time they were read. */
  lines: { t: number; msg: string }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; t: number }>;
}

/**
 * `nofile`: run under `ulimit -n <nofile>` (soft and hard, so Node cannot raise it).
 * `nodeArgs`: options for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses).
 */
export async function startNodeProcess(
  natsUrl: string,
  env: Record<string, string> = {},
  options: { nofile?: number; nodeArgs?: readonly string[] } = {},
): Promise<NodeProcess> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const nodeArgs = [...(options.nodeArgs ?? []), CLI, "serve"];
  const [command, args] =
    options.nofile === undefined ? [process.execPath, nodeArgs] : ["bash", ["-c", `ulimit -n ${options.nofile} && exec "$0" "$@"`, process.execPath, ...nodeArgs]];
  const child = spawn(command, args, {
    env: { ...process.env, NATS_URL: natsUrl, HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: "0", LOG_LEVEL: "info", AUTO_PROVISION: env.NATS_USER === undefined ? "true" : "false", MAX_UNAUTHENTICATED_PER_IP: "100000", AUTH_FAILURES_PER_IP_PER_MIN: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: { t: number; msg: string }[] = [];
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let msg = line;
      try {
        msg = (JSON.parse(line) as { msg: string }).msg;
      } catch {
        // not a pino line
      }
      lines.push({ t: Date.now(), msg });
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; t: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, t: Date.now() })),
  );
  const deadline = Date.now() + 15_000;
  const ready = async (): Promise<boolean> => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`serve exited: ${JSON.stringify(lines)}`);
    if (Date.now() > deadline) throw new Error(`serve did not become ready: ${JSON.stringify(lines)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, port, lines, exited, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` };
}

/** A metric scraped from a node's /metrics (summed over label sets); undefined when unreachable. */
export async function scrapeMetric(metricsPort: number, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(1000) })).text();
    let sum: number | undefined;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return sum;
  } catch {
    return undefined;
  }
}

/** A node's /readyz: status (0 when unreachable) and the reasons it gives for 503. */
export async function readyzOf(http: string): Promise<{ status: number; reasons: string[] }> {
  try {
    const res = await fetch(`${http}/readyz`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json().catch(() => ({}))) as { reasons?: string[] };
    return { status: res.status, reasons: body.reasons ?? [] };
  } catch {
    return { status: 0, reasons: [] };
  }
}

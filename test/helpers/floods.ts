/**
 * Hostile clients for the fairness tests (issue 19, W-1/W-2/W-5), each bounded in frames, time
 * and connections, loopback only; and the probe that measures another tenant's live latency
 * (publish -> receive, on this process's clock) over a socket and over an SSE stream.
 */
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import WebSocket from "ws";
import { publishEvent } from "../../src/publisher/index.js";

export interface FloodResult {
  /** Frames sent over all connections. */
  frames: number;
  /** Connections the flood opened (it reconnects at once when refused, like an attacker). */
  connections: number;
  /** Close codes the node sent, in order. */
  codes: number[];
}

/**
 * One socket at a time sends `frame(i)` as fast as its send buffer allows while `gate.on`, until
 * `durationMs` passes or `maxFrames` were sent.
 */
export async function socketFlood(
  url: string,
  auth: Record<string, unknown>,
  frame: (i: number) => string,
  limits: { durationMs: number; maxFrames: number; maxConnections: number },
  /**
   * Frames are sent only while `on` (the probe's flood windows); refused, the flood reconnects at
   * the next window (`window` changes), so each flood window gets one flooding socket.
   */
  gate: { on: boolean; window: number } = { on: true, window: 0 },
): Promise<FloodResult> {
  const result: FloodResult = { frames: 0, connections: 0, codes: [] };
  const until = Date.now() + limits.durationMs;
  let lastWindow = gate.window;
  while (Date.now() < until && result.frames < limits.maxFrames && result.connections < limits.maxConnections) {
    if (gate.window === lastWindow) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    lastWindow = gate.window;
    result.connections++;
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let authed = false;
      // At most 64 frames a turn of this process's event loop, so the flood does not stall the
      // process that measures the other tenant's latency.
      const pump = (): void => {
        for (let n = 0; gate.on && n < 64 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 64 * 1024 && Date.now() < until && result.frames < limits.maxFrames; n++) {
          ws.send(frame(result.frames++));
        }
        if (ws.readyState !== WebSocket.OPEN) return;
        if (Date.now() >= until || result.frames >= limits.maxFrames) ws.close(1000);
        else if (gate.on) setImmediate(pump);
        else setTimeout(pump, 5);
      };
      ws.on("open", () => ws.send(JSON.stringify({ type: "auth", ...auth })));
      ws.on("message", (data) => {
        if (authed) return;
        authed = true;
        if (String(data).includes('"auth_ok"')) pump();
      });
      ws.on("error", () => {});
      ws.on("close", (c) => resolve(c));
    });
    result.codes.push(code);
  }
  return result;
}

/** `count` SSE streams that send their request, then never read a byte (raw TCP, paused). */
export async function idleSseStreams(port: number, path: string, headers: Record<string, string>, count: number): Promise<{ sockets: TcpSocket[]; close(): void }> {
  const head = [`GET ${path} HTTP/1.1`, "Host: 127.0.0.1", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
  const sockets = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<TcpSocket>((resolve, reject) => {
        const s = tcpConnect({ port, host: "127.0.0.1" }, () => {
          s.write(head);
          s.pause();
          resolve(s);
        });
        s.setNoDelay(true);
        s.once("error", reject);
      });
    }),
  );
  for (const s of sockets) s.on("error", () => {});
  return { sockets, close: () => sockets.forEach((s) => s.destroy()) };
}

/** Arrival times (this process's clock) of events by messageId. */
export type Arrivals = Map<string, number>;

/** A socket whose arrivals are timed as they are read. */
export function timedSocket(ws: WebSocket): Arrivals {
  const arrivals: Arrivals = new Map();
  ws.on("message", (data) => {
    const text = String(data);
    if (!text.includes('"messageId"')) return;
    const at = Date.now();
    arrivals.set((JSON.parse(text) as { messageId: string }).messageId, at);
  });
  return arrivals;
}

/** An SSE stream (fetch) whose events' arrivals are timed as they are read; resolves once the response started. */
export async function timedSseStream(url: string, headers: Record<string, string>): Promise<{ arrivals: Arrivals; close(): void }> {
  const arrivals: Arrivals = new Map();
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  if (res.status !== 200 || res.body === null) throw new Error(`sse stream: HTTP ${res.status}`);
  const body = res.body as unknown as AsyncIterable<Uint8Array>;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        const at = Date.now();
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!line.startsWith("data: {") || !line.includes('"messageId"')) continue;
          arrivals.set((JSON.parse(line.slice(6)) as { messageId: string }).messageId, at);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { arrivals, close: () => controller.abort() };
}

/** One window of the probe: its phase, and each receiver's latencies (ms) of its counted events. */
export interface ProbeWindow {
  flood: boolean;
  latencies: number[][];
}

/**
 * Publish `count` status events of one tenant, one every `intervalMs` (acknowledged each), in
 * windows of `window` events that alternate between the two phases (`setPhase` is told each
 * window's phase before its first event), and return the windows with each receiver's latencies
 * once every receiver has every event (or `timeoutMs` passed: missing events count as Infinity).
 * Alternating windows give both phases the same share of whatever else the machine is doing; the
 * first `settle` events of each window (the previous phase's tail) are not counted.
 */
export async function probeLatency(
  nc: NatsConnection,
  options: { tenantId: string; appId: string; prefix: string; count: number; intervalMs: number; window: number; settle: number; timeoutMs?: number },
  receivers: readonly Arrivals[],
  setPhase: (flood: boolean) => void,
): Promise<ProbeWindow[]> {
  const sent: { id: string; at: number; window: number; counted: boolean }[] = [];
  for (let i = 0; i < options.count; i++) {
    const window = Math.floor(i / options.window);
    if (i % options.window === 0) setPhase(window % 2 === 1);
    const id = `${options.prefix}-${i}`;
    const next = Date.now() + options.intervalMs;
    sent.push({ id, at: Date.now(), window, counted: i % options.window >= options.settle });
    await publishEvent(nc, { type: "sms_status", messageId: id, tenantId: options.tenantId, appId: options.appId, status: "sent" });
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  setPhase(false);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const complete = (): boolean => receivers.every((r) => sent.every((s) => r.has(s.id)));
  while (!complete() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const windows = Math.ceil(options.count / options.window);
  return Array.from({ length: windows }, (_, w) => ({
    flood: w % 2 === 1,
    latencies: receivers.map((r) => sent.filter((s) => s.window === w && s.counted).map((s) => (r.get(s.id) ?? Number.POSITIVE_INFINITY) - s.at)),
  }));
}

/** The q-quantile (nearest rank) of the samples. */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * The attack of security-probe V-5, bounded and on loopback: one client opens `count` TCP
 * connections that send the start of a request and never finish it. And a process's CPU use over
 * a window, read from /proc/<pid>/stat (utime + stime), to tell a spinning node from an idle one.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

export interface SilentFlood {
  /** Connections the peer accepted (TCP handshake done) so far. */
  readonly connected: number;
  /** Connections the peer closed or reset. */
  readonly closedByPeer: number;
  /** Connections still open from this side. */
  open(): number;
  close(): void;
}

/** `localAddress`: the source address (any 127.x.y.z on Linux), so the flood has its own. */
export function silentFlood(port: number, count: number, options: { host?: string; localAddress?: string } = {}): SilentFlood {
  const sockets: Socket[] = [];
  let connected = 0;
  let closedByPeer = 0;
  let closing = false;
  for (let i = 0; i < count; i++) {
    const s = connect({ port, host: options.host ?? "127.0.0.1", ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    s.on("error", () => {});
    s.on("connect", () => {
      connected++;
      s.write("GET /ws HTTP/1.1\r\nHost: flood\r\n");
    });
    s.on("close", () => {
      if (!closing) closedByPeer++;
    });
    sockets.push(s);
  }
  return {
    get connected() {
      return connected;
    },
    get closedByPeer() {
      return closedByPeer;
    },
    open: () => sockets.filter((s) => !s.destroyed).length,
    close: () => {
      closing = true;
      for (const s of sockets) s.destroy();
    },
  };
}

const CLOCK_TICKS_PER_S = 100;

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Share of one core a process used over `windowMs` (1 = one core busy). */
export async function cpuShare(pid: number, windowMs: number): Promise<number> {
  const t0 = cpuTicks(pid);
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, windowMs));
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  return (cpuTicks(pid) - t0) / CLOCK_TICKS_PER_S / elapsedS;
}

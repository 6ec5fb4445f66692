/**
 * A loopback stand-in for the production load balancer (k8s/overlays/production/haproxy.cfg):
 * `balance url_param tenant` + `hash-type consistent` + `hash-balance-factor 125`. It reads the
 * request line of each connection, hashes the `tenant` query parameter onto a ring of backends
 * and takes the first backend, clockwise, whose open connections stay under
 * ceil(1.25 x (total + 1) / backends) (bounded load, Mirrokni et al.); without the parameter it
 * goes round-robin, as HAProxy does. Bytes are piped untouched after that.
 *
 * The hash is FNV-1a, not HAProxy's: the test checks the rule (a tenant lands on the backends its
 * key and the bound choose), not HAProxy's exact choice of backend.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface AffinityProxy {
  readonly port: number;
  /** Every connection routed so far: its hash key (undefined: no hint) and the backend index. */
  readonly routed: readonly { key: string | undefined; backend: number }[];
  /** Open connections per backend. */
  readonly load: readonly number[];
  close(): Promise<void>;
}

const POINTS_PER_BACKEND = 100;

export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The consistent-hash ring with bounded load: pure, so the test can predict placements. */
export class BoundedRing {
  readonly #points: { hash: number; backend: number }[] = [];
  readonly load: number[];

  constructor(
    readonly backends: number,
    readonly balanceFactor = 1.25,
  ) {
    this.load = new Array<number>(backends).fill(0);
    for (let b = 0; b < backends; b++) {
      for (let v = 0; v < POINTS_PER_BACKEND; v++) this.#points.push({ hash: fnv1a(`backend-${b}#${v}`), backend: b });
    }
    this.#points.sort((x, y) => x.hash - y.hash);
  }

  /** The backend for a new connection with this key; counts it. */
  pick(key: string): number {
    const total = this.load.reduce((a, b) => a + b, 0);
    const cap = Math.ceil((this.balanceFactor * (total + 1)) / this.backends);
    const h = fnv1a(key);
    let lo = 0;
    let hi = this.#points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#points[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < this.#points.length; i++) {
      const b = this.#points[(lo + i) % this.#points.length]!.backend;
      if (this.load[b]! < cap) {
        this.load[b]!++;
        return b;
      }
    }
    throw new Error("no backend under the bound"); // cannot happen: some backend is under the mean
  }
}

export async function startAffinityProxy(ports: readonly number[]): Promise<AffinityProxy> {
  const ring = new BoundedRing(ports.length);
  const routed: { key: string | undefined; backend: number }[] = [];
  const open = new Set<Socket>();
  let next = 0;

  const route = (client: Socket, head: Buffer): void => {
    const line = head.toString("latin1", 0, head.indexOf("\r\n"));
    const target = line.split(" ")[1] ?? "/";
    const key = new URL(target, "http://proxy").searchParams.get("tenant") ?? undefined;
    let backend: number;
    if (key === undefined || key === "") {
      backend = next++ % ports.length;
      ring.load[backend]!++;
    } else {
      backend = ring.pick(key);
    }
    routed.push({ key: key || undefined, backend });
    const upstream = connect(ports[backend]!, "127.0.0.1");
    open.add(upstream);
    let released = false;
    const end = (): void => {
      if (!released) {
        released = true;
        ring.load[backend]!--;
      }
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", end);
    upstream.on("close", end);
    client.on("close", end);
    upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server: Server = createServer((client) => {
    open.add(client);
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.indexOf("\r\n") < 0) {
        if (head.length > 8192) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      route(client, head);
      client.resume();
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    routed,
    load: ring.load,
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A loopback TCP proxy for fault tests: a round-robin "load balancer" over backends that skips
 * dead ones, and a network we can cut (drop every connection) or block (refuse new ones).
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Drop every open connection (both sides see a reset). */
  cut(): void;
  /** While blocked, new connections are closed at once. */
  block(blocked: boolean): void;
  setTargets(ports: number[]): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targets: number[]): Promise<TcpProxy> {
  let ports = [...targets];
  let next = 0;
  let blocked = false;
  const pairs = new Set<[Socket, Socket]>();

  const dial = (client: Socket, attempt: number): void => {
    if (attempt >= ports.length || blocked) {
      client.destroy();
      return;
    }
    const port = ports[next++ % ports.length] as number;
    const upstream = connect(port, "127.0.0.1");
    upstream.once("error", () => {
      upstream.destroy();
      if (!connected) dial(client, attempt + 1);
      else client.destroy();
    });
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = (): void => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.once("close", end);
      upstream.once("close", end);
      client.once("error", end);
    });
  };

  const server: Server = createServer((client) => {
    client.on("error", () => client.destroy());
    if (blocked) {
      client.destroy();
      return;
    }
    client.pause();
    dial(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    for (const [a, b] of pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port,
    cut,
    block(value) {
      blocked = value;
    },
    setTargets(p) {
      ports = [...p];
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

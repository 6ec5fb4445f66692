/**
 * A real `ws` WebSocketServer on 127.0.0.1, random port, that the test scripts frame by frame
 * to behave like the gateway. Everything is awaited on events, never on sleeps.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { ClientEventMap, ClientState, SmsWsClient, StateChange, Timers } from "../../../src/client/index.js";

/** Values pushed by one side, awaited one by one by the other. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((value: T) => void)[] = [];

  push(value: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(value);
    else this.#items.push(value);
  }

  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get pending(): number {
    return this.#items.length;
  }
}

export interface GatewaySocket {
  readonly ws: WebSocket;
  /** Client frames, parsed as JSON. */
  nextMessage(): Promise<Record<string, unknown>>;
  send(frame: object): void;
  close(code: number, reason?: string): void;
  /** Resolves with the close code once the socket is closed, whoever closed it. */
  readonly closed: Promise<number>;
}

export interface FakeGateway {
  readonly url: string;
  nextConnection(): Promise<GatewaySocket>;
  /** How many sockets connected so far. */
  readonly connectionCount: number;
  /** Accepts the next connection, checks nothing, answers its auth with auth_ok. */
  acceptNext(authOk?: object): Promise<{ socket: GatewaySocket; auth: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startFakeGateway(): Promise<FakeGateway> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws" });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const connections = new Inbox<GatewaySocket>();
  let count = 0;
  wss.on("connection", (ws) => {
    count++;
    const messages = new Inbox<Record<string, unknown>>();
    ws.on("message", (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    connections.push({
      ws,
      nextMessage: () => messages.next(),
      send: (frame) => ws.send(JSON.stringify(frame)),
      close: (code, reason) => ws.close(code, reason),
      closed,
    });
  });
  const { port } = wss.address() as AddressInfo;
  const gateway: FakeGateway = {
    url: `ws://127.0.0.1:${port}/ws`,
    nextConnection: () => connections.next(),
    get connectionCount() {
      return count;
    },
    async acceptNext(authOk = { type: "auth_ok", epoch: "E1" }) {
      const socket = await connections.next();
      const auth = await socket.nextMessage();
      socket.send(authOk);
      return { socket, auth };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
  return gateway;
}

/** Resolves with the next payload of `name` that satisfies `accept`. Subscribe before acting. */
export function nextOf<K extends keyof ClientEventMap>(
  client: SmsWsClient,
  name: K,
  accept: (payload: ClientEventMap[K]) => boolean = () => true,
): Promise<ClientEventMap[K]> {
  return new Promise((resolve) => {
    const off = client.on(name, (payload) => {
      if (!accept(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** Resolves when the client enters `state` (at once if it is already there). */
export function reachState(client: SmsWsClient, state: ClientState): Promise<StateChange | undefined> {
  if (client.state === state) return Promise.resolve(undefined);
  return nextOf(client, "state", (change) => change.state === state);
}

/** Real timers that also know which are still pending: "nothing scheduled" is then checkable. */
export class TrackedTimers implements Timers {
  readonly #pending = new Set<ReturnType<typeof setTimeout>>();

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      callback();
    }, ms);
    this.#pending.add(handle);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
    this.#pending.delete(handle as ReturnType<typeof setTimeout>);
  }

  get pending(): number {
    return this.#pending.size;
  }
}

export function statusEvent(eventId: string, seq?: number, status = "sent"): Record<string, unknown> {
  const event: Record<string, unknown> = {
    type: "sms_status",
    eventId,
    messageId: `msg_${eventId}`,
    appId: "app_1",
    tenantId: "tenant_1",
    status,
    timestamp: "2026-03-01T10:00:01.000Z",
  };
  if (seq !== undefined) event.seq = seq;
  return event;
}

export function inboundEvent(eventId: string, seq?: number): Record<string, unknown> {
  const event: Record<string, unknown> = {
    type: "sms_inbound",
    eventId,
    messageId: `msg_${eventId}`,
    from: "+15559876543",
    to: "+15551234567",
    body: "Yes, I confirm",
    rcMessageId: "123456789",
    tenantId: "tenant_1",
    timestamp: "2026-03-01T14:30:00.000Z",
  };
  if (seq !== undefined) event.seq = seq;
  return event;
}

/**
 * The SDK against a real `ws` server scripted like the gateway, with `ws`'s WebSocket injected
 * (Node 20 has no global one). Every wait is on an event or a promise, never a sleep.
 */
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { WebSocket } from "ws";
import {
  createClient,
  SmsWsClient,
  SmsWsError,
  type ClientItem,
  type ClientOptions,
  type ClientState,
  type SmsEvent,
  type SmsStatus,
  type StateChange,
} from "../../../src/client/index.js";
import {
  inboundEvent,
  nextOf,
  reachState,
  startFakeGateway,
  statusEvent,
  TrackedTimers,
  type FakeGateway,
  type GatewaySocket,
} from "./fake-gateway.js";

let gateway: FakeGateway;
const clients: SmsWsClient[] = [];

beforeEach(async () => {
  gateway = await startFakeGateway();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await gateway.stop();
});

function connect(options: Partial<ClientOptions> = {}): SmsWsClient {
  const client = createClient({
    url: gateway.url,
    apiKey: "key_1",
    WebSocket,
    random: () => 0, // reconnect at once unless a test looks at the delays
    reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    ...options,
  });
  clients.push(client);
  return client;
}

async function connectLive(options: Partial<ClientOptions> = {}, authOk: object = { type: "auth_ok", epoch: "E1" }) {
  const client = connect(options);
  const live = reachState(client, "live");
  const { socket, auth } = await gateway.acceptNext(authOk);
  await live;
  return { client, socket, auth };
}

/** Sends the frames, then resolves once the client delivered the event with `untilEventId`. */
async function sendAndSettle(client: SmsWsClient, socket: GatewaySocket, frames: object[], untilEventId: string) {
  const done = nextOf(client, "event", (event) => event.eventId === untilEventId);
  for (const frame of frames) socket.send(frame);
  await done;
}

function collect(client: SmsWsClient): SmsEvent[] {
  const events: SmsEvent[] = [];
  client.on("event", (event) => events.push(event));
  return events;
}

describe("SmsWsClient: connecting and authenticating", () => {
  it("sends the auth message on open and goes live on auth_ok", async () => {
    const client = connect();
    const states: ClientState[] = [];
    client.on("state", (change) => states.push(change.state));
    expect(client.state).toBe("connecting");

    const socket = await gateway.nextConnection();
    expect(await socket.nextMessage()).toEqual({ type: "auth", apiKey: "key_1" });
    expect(client.state).toBe("authenticating");

    const live = reachState(client, "live");
    socket.send({ type: "auth_ok", epoch: "E1" });
    await live;
    expect(states).toEqual(["authenticating", "live"]);
    expect(client.epoch).toBe("E1");
    expect(client.lastSeq).toBeUndefined();
    expect(client.position).toBeUndefined();
  });

  it("works with a seed-style server: auth_ok without epoch, events without seq", async () => {
    const { client, socket } = await connectLive({}, { type: "auth_ok" });
    const events = collect(client);
    await sendAndSettle(client, socket, [statusEvent("e1")], "e1");
    expect(events).toHaveLength(1);
    expect(client.epoch).toBeUndefined();
    expect(client.position).toBeUndefined();
  });

  it("throws a TypeError naming the problem when no WebSocket implementation exists", () => {
    vi.stubGlobal("WebSocket", undefined);
    try {
      expect(() => createClient({ url: gateway.url, apiKey: "k" })).toThrow(/no WebSocket implementation/);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => createClient({ url: gateway.url, apiKey: "", WebSocket })).toThrow(/apiKey/);
    expect(() => createClient({ url: gateway.url, apiKey: "k", WebSocket, reconnect: { initialDelayMs: -1 } })).toThrow(
      /reconnect.initialDelayMs/,
    );
  });

  it("closes with CONNECT_FAILED when the URL cannot be opened at all", async () => {
    const client = connect({ url: "not a url" });
    expect(client.state).toBe("closed");
    await expect(client.items().next()).rejects.toMatchObject({ code: "CONNECT_FAILED", fatal: true });
  });
});

describe("SmsWsClient: events", () => {
  it("delivers typed sms_status and sms_inbound events, ignoring pings and unknown types", async () => {
    const { client, socket } = await connectLive();
    const events = collect(client);
    const errors: SmsWsError[] = [];
    client.on("error", (error) => errors.push(error));

    await sendAndSettle(
      client,
      socket,
      [
        { type: "ping" },
        statusEvent("e1", 5, "delivered"),
        { type: "sms_reaction", eventId: "x", emoji: "+1" }, // a future server frame type
        { type: "sms_status", eventId: "broken" }, // lacks required fields: dropped, reported
        inboundEvent("e2", 6),
      ],
      "e2",
    );

    expect(events.map((e) => e.eventId)).toEqual(["e1", "e2"]);
    const [status, inbound] = events;
    if (status?.type !== "sms_status" || inbound?.type !== "sms_inbound") throw new Error("wrong event types");
    expectTypeOf(status.status).toEqualTypeOf<SmsStatus>();
    expectTypeOf(inbound.body).toEqualTypeOf<string>();
    expect(status).toMatchObject({ status: "delivered", appId: "app_1", tenantId: "tenant_1", seq: 5 });
    expect(inbound).toMatchObject({ from: "+15559876543", to: "+15551234567", body: "Yes, I confirm" });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "INVALID_FRAME", fatal: false });
    expect(client.state).toBe("live");
    expect(client.position).toEqual({ epoch: "E1", seq: 6 });
  });

  it("drops an event whose eventId it has already delivered", async () => {
    const { client, socket } = await connectLive();
    const events = collect(client);
    await sendAndSettle(client, socket, [statusEvent("e1", 1), statusEvent("e1", 1), statusEvent("e2", 2), statusEvent("e1", 1), statusEvent("e3", 3)], "e3");
    expect(events.map((e) => e.eventId)).toEqual(["e1", "e2", "e3"]);
  });

  it("reports a throwing listener as an error and keeps delivering", async () => {
    const { client, socket } = await connectLive();
    client.on("event", (event) => {
      if (event.eventId === "e1") throw new Error("app bug");
    });
    const failure = nextOf(client, "error");
    const events = collect(client);
    await sendAndSettle(client, socket, [statusEvent("e1"), statusEvent("e2")], "e2");
    expect(await failure).toMatchObject({ code: "LISTENER_FAILED", fatal: false });
    expect(events.map((e) => e.eventId)).toEqual(["e1", "e2"]);
  });

  it("stops calling a listener once unsubscribed", async () => {
    const { client, socket } = await connectLive();
    const seen: string[] = [];
    const off = client.on("event", (event) => {
      seen.push(event.eventId);
      off();
    });
    await sendAndSettle(client, socket, [statusEvent("e1"), statusEvent("e2")], "e2");
    expect(seen).toEqual(["e1"]);
  });
});

describe("SmsWsClient: reconnect and resume", () => {
  it("reconnects with backoff after 1001 and resumes from the last epoch and seq", async () => {
    const { client, socket: first } = await connectLive({ random: () => 0.5, reconnect: { initialDelayMs: 40, maxDelayMs: 1000 } });
    const events = collect(client);
    await sendAndSettle(client, first, [statusEvent("e1", 10), inboundEvent("e2", 12)], "e2");

    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    const closedAt = performance.now();
    first.close(1001, "draining");
    expect(await reconnecting).toMatchObject({ previous: "live", closeCode: 1001, closeReason: "draining", attempt: 1, delayMs: 20 });

    const second = await gateway.nextConnection();
    expect(performance.now() - closedAt).toBeGreaterThanOrEqual(18); // the 20 ms backoff, timer slack aside
    expect(await second.nextMessage()).toEqual({ type: "auth", apiKey: "key_1", resume: { epoch: "E1", seq: 12 } });
    expect(client.state).toBe("resuming");

    const resumed = nextOf(client, "resumed");
    const live = reachState(client, "live");
    second.send({ type: "auth_ok", epoch: "E1" });
    // The replay overlaps what the first socket already delivered: e2 must not come twice.
    second.send(inboundEvent("e2", 12));
    second.send(statusEvent("e3", 15));
    second.send({ type: "resumed", replayed: 2 });
    expect(await resumed).toEqual({ replayed: 2, from: { epoch: "E1", seq: 12 } });
    await live;
    expect(events.map((e) => e.eventId)).toEqual(["e1", "e2", "e3"]);
    expect(client.position).toEqual({ epoch: "E1", seq: 15 });
  });

  it.each([
    [4408, "auth timeout"],
    [4429, "slow consumer"],
    [1011, "server error"],
    [4999, "a code this SDK does not know"],
  ])("reconnects and resumes after close %i (%s)", async (code) => {
    const { client, socket } = await connectLive();
    await sendAndSettle(client, socket, [statusEvent("e1", 3)], "e1");
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    socket.close(code);
    expect(await reconnecting).toMatchObject({ closeCode: code });
    const next = await gateway.nextConnection();
    expect(await next.nextMessage()).toMatchObject({ resume: { epoch: "E1", seq: 3 } });
  });

  it("reconnects after an abnormal drop (no close frame)", async () => {
    const { client, socket } = await connectLive();
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    socket.ws.terminate();
    expect(await reconnecting).toMatchObject({ closeCode: 1006 });
    await gateway.acceptNext();
    await reachState(client, "live");
  });

  it("reconnects after 1009 and reports it as a non-fatal error", async () => {
    const { client, socket } = await connectLive();
    const error = nextOf(client, "error");
    socket.close(1009, "too big");
    expect(await error).toMatchObject({ code: "MESSAGE_TOO_BIG", closeCode: 1009, fatal: false });
    await gateway.nextConnection();
  });

  it("grows the backoff per failed attempt and resets it after a successful auth", async () => {
    const client = connect({ random: () => 0.5, reconnect: { initialDelayMs: 8, maxDelayMs: 1000 } });
    const reconnects: StateChange[] = [];
    client.on("state", (c) => {
      if (c.state === "reconnecting") reconnects.push(c);
    });
    for (const code of [4408, 1011]) {
      const socket = await gateway.nextConnection();
      await socket.nextMessage();
      socket.close(code); // fails before auth_ok
    }
    const { socket } = await gateway.acceptNext();
    await reachState(client, "live");
    socket.close(1001);
    await gateway.nextConnection();
    expect(reconnects.map((c) => [c.attempt, c.delayMs])).toEqual([
      [1, 4],
      [2, 8],
      [1, 4],
    ]);
  });

  it("surfaces resume_failed with the position and the disconnect time, then goes live", async () => {
    const { client, socket: first } = await connectLive();
    await sendAndSettle(client, first, [statusEvent("e1", 3)], "e1");
    const items = client.items();
    first.close(4429);

    const second = await gateway.nextConnection();
    expect(await second.nextMessage()).toMatchObject({ resume: { epoch: "E1", seq: 3 } });
    const failed = nextOf(client, "resumeFailed");
    const live = reachState(client, "live");
    second.send({ type: "auth_ok", epoch: "E1" });
    second.send({ type: "resume_failed", reason: "retention" });
    const failure = await failed;
    expect(failure).toMatchObject({ reason: "retention", from: { epoch: "E1", seq: 3 } });
    expect(Date.parse(failure.disconnectedAt ?? "")).toBeLessThanOrEqual(Date.now());
    await live;

    const kinds: string[] = [];
    for await (const item of items) {
      kinds.push(item.kind === "state" ? `state:${item.state}` : item.kind);
      if (item.kind === "state" && item.state === "live") break;
    }
    expect(kinds).toEqual(["state:reconnecting", "state:connecting", "state:resuming", "resumeFailed", "state:live"]);
  });

  it("resumes from resumeFrom on the first connection and follows a new epoch", async () => {
    const client = connect({ resumeFrom: { epoch: "E0", seq: 7 } });
    const socket = await gateway.nextConnection();
    expect(await socket.nextMessage()).toEqual({ type: "auth", apiKey: "key_1", resume: { epoch: "E0", seq: 7 } });
    const failed = nextOf(client, "resumeFailed");
    socket.send({ type: "auth_ok", epoch: "E2" });
    socket.send({ type: "resume_failed", reason: "epoch" });
    const failure = await failed;
    expect(failure).toEqual({ reason: "epoch", from: { epoch: "E0", seq: 7 } });
    // Sequences of the old stream mean nothing in the new one.
    expect(client.epoch).toBe("E2");
    expect(client.lastSeq).toBeUndefined();
    await sendAndSettle(client, socket, [statusEvent("e1", 2)], "e1");
    expect(client.position).toEqual({ epoch: "E2", seq: 2 });
  });

  it("reports resumeFailed 'unavailable' when the node answers a resume with an auth_ok without epoch", async () => {
    const client = connect({ resumeFrom: { epoch: "E1", seq: 7 } });
    const failed = nextOf(client, "resumeFailed");
    await gateway.acceptNext({ type: "auth_ok" });
    expect(await failed).toEqual({ reason: "unavailable", from: { epoch: "E1", seq: 7 } });
    await reachState(client, "live");
  });

  it("reports resumeFailed 'no_position' on a reconnect before any event with a seq", async () => {
    const { client, socket } = await connectLive();
    const failed = nextOf(client, "resumeFailed");
    socket.close(1001);
    const { auth } = await gateway.acceptNext();
    expect(auth).toEqual({ type: "auth", apiKey: "key_1" });
    const failure = await failed;
    expect(failure.reason).toBe("no_position");
    expect(typeof failure.disconnectedAt).toBe("string");
  });

  it("sends plain auth on reconnect with resume: false", async () => {
    const { client, socket } = await connectLive({ resume: false });
    let failures = 0;
    client.on("resumeFailed", () => failures++);
    await sendAndSettle(client, socket, [statusEvent("e1", 3)], "e1");
    socket.close(1001);
    const { auth } = await gateway.acceptNext();
    expect(auth).toEqual({ type: "auth", apiKey: "key_1" });
    await reachState(client, "live");
    expect(failures).toBe(0);
  });

  it("closes on the first drop with reconnect: false", async () => {
    const timers = new TrackedTimers();
    const { client, socket } = await connectLive({ reconnect: false, timers });
    const closed = reachState(client, "closed");
    socket.close(1001);
    expect(await closed).toMatchObject({ closeCode: 1001, previous: "live" });
    expect((await closed)?.error).toBeUndefined();
    expect(timers.pending).toBe(0);
  });
});

describe("SmsWsClient: fatal close codes", () => {
  it.each([
    ["invalid key at auth", 4401, "Invalid API key", "AUTH_FAILED", false],
    ["key revoked while live", 4401, "API key revoked", "AUTH_FAILED", true],
    ["malformed auth message", 4400, "Auth message is missing apiKey", "BAD_REQUEST", false],
  ])("%s: closes with an error and never reconnects", async (_name, code, text, errorCode, live) => {
    const timers = new TrackedTimers();
    const client = connect({ timers });
    const socket = await gateway.nextConnection();
    await socket.nextMessage();
    if (live) {
      const isLive = reachState(client, "live");
      socket.send({ type: "auth_ok", epoch: "E1" });
      await isLive;
    }
    const consumer = (async () => {
      for await (const _item of client) {
        // drained until the fatal error ends the iteration
      }
    })();
    const closed = reachState(client, "closed");
    const error = nextOf(client, "error");
    socket.send({ type: "auth_error", error: text });
    socket.close(code, text);

    const change = await closed;
    const err = await error;
    expect(err).toBeInstanceOf(SmsWsError);
    expect(err).toMatchObject({ code: errorCode, closeCode: code, fatal: true, message: text });
    expect(change).toMatchObject({ state: "closed", closeCode: code, error: err });
    await expect(consumer).rejects.toBe(err);
    // Nothing is scheduled (no reconnect, no watchdog): the client can never open another socket.
    expect(timers.pending).toBe(0);
    expect(gateway.connectionCount).toBe(1);
    expect(client.state).toBe("closed");
  });
});

describe("SmsWsClient: heartbeat watchdog", () => {
  it("keeps a socket that receives pings and drops one that has been silent for 2 intervals", async () => {
    const { client, socket } = await connectLive({ pingIntervalMs: 100 });
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");

    // The scripted gateway pings every 50 ms for 6 pings (300 ms, longer than 2 intervals) ...
    await new Promise<void>((resolve) => {
      let sent = 0;
      const timer = setInterval(() => {
        socket.send({ type: "ping" });
        if (++sent === 6) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    expect(client.state).toBe("live");
    const lastPingAt = performance.now();

    // ... then goes silent without closing: the client must notice on its own.
    expect(await reconnecting).toMatchObject({ previous: "live", closeCode: 4000, closeReason: "heartbeat timeout" });
    expect(performance.now() - lastPingAt).toBeGreaterThanOrEqual(150);
    expect(gateway.connectionCount).toBe(1);
    expect(await socket.closed).toBe(1006); // dropped at once, not via a close handshake
    await gateway.acceptNext();
    await reachState(client, "live");
  });

  it("also gives up on a server that never answers the auth message", async () => {
    const client = connect({ pingIntervalMs: 50 });
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    const silent = await gateway.nextConnection();
    await silent.nextMessage();
    expect(await reconnecting).toMatchObject({ previous: "authenticating", closeCode: 4000 });
    await gateway.nextConnection();
  });
});

describe("SmsWsClient: iterators and close()", () => {
  it("yields tagged items and ends every iterator on close()", async () => {
    const client = connect();
    const items = client.items();
    const events = client.events();
    const { socket } = await gateway.acceptNext();
    socket.send(statusEvent("e1", 1));

    const seenItems: ClientItem[] = [];
    for await (const item of items) {
      seenItems.push(item);
      if (item.kind === "event") client.close();
    }
    const seenEvents: SmsEvent[] = [];
    for await (const event of events) seenEvents.push(event);

    expect(seenItems.map((i) => (i.kind === "state" ? i.state : i.kind))).toEqual(["authenticating", "live", "event", "closed"]);
    expect(seenEvents.map((e) => e.eventId)).toEqual(["e1"]);
    expect(await client.items().next()).toEqual({ value: undefined, done: true });
    expect(await socket.closed).toBe(1000);
  });

  it("supports for await over the client itself and break unsubscribes", async () => {
    const client = connect();
    const iterate = (async () => {
      for await (const item of client) if (item.kind === "state" && item.state === "live") return item;
      return undefined;
    })();
    await gateway.acceptNext();
    expect(await iterate).toMatchObject({ kind: "state", state: "live", previous: "authenticating" });
  });

  it("ends a waiting events() iterator when close() is called", async () => {
    const { client } = await connectLive();
    const next = client.events().next();
    client.close();
    client.close(); // idempotent
    expect(await next).toEqual({ value: undefined, done: true });
  });

  it("stops a pending reconnect on close()", async () => {
    const timers = new TrackedTimers();
    const { client, socket } = await connectLive({ timers, random: () => 0.999, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const reconnecting = reachState(client, "reconnecting");
    socket.close(1001);
    await reconnecting;
    expect(timers.pending).toBe(1);
    client.close();
    expect(timers.pending).toBe(0);
    expect(client.state).toBe("closed");
  });
});

/**
 * The SDK with connection tokens (getToken): a token per connection, refresh on the same socket
 * before expiry, getToken failures, and 4419. A ManualClock drives the minute-long timers; the
 * short reconnect delays run on real timers against the scripted `ws` gateway.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { createClient, SmsWsError, type ClientOptions, type GetToken, type SmsWsClient } from "../../../src/client/index.js";
import { nextOf, reachState, startFakeGateway, statusEvent, type FakeGateway, type GatewaySocket } from "./fake-gateway.js";
import { ManualClock } from "./manual-clock.js";

const START_MS = Date.UTC(2026, 2, 1, 10, 0, 0);
const START_S = START_MS / 1000;

let gateway: FakeGateway;
const clients: SmsWsClient[] = [];

beforeEach(async () => {
  gateway = await startFakeGateway();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await gateway.stop();
});

/** getToken returning tok-1, tok-2, ...; `fail` makes the next calls reject. */
function tokenSource() {
  let n = 0;
  const state = { fail: false };
  const getToken = vi.fn<GetToken>(async () => {
    n++;
    if (state.fail) throw new Error(`backend down (call ${n})`);
    return `tok-${n}`;
  });
  return { getToken, state };
}

function connect(getToken: GetToken, options: Partial<ClientOptions> = {}) {
  const clock = new ManualClock(START_MS);
  const client = createClient({
    url: gateway.url,
    getToken,
    WebSocket,
    random: () => 0.5,
    reconnect: { initialDelayMs: 10, maxDelayMs: 40 }, // at most 20 ms: real timers
    pingIntervalMs: 0,
    timers: clock,
    now: clock.now,
    ...options,
  });
  clients.push(client);
  return { client, clock };
}

/** Sends the frames, then an event, and resolves once the client delivered that event. */
async function sendAndSettle(client: SmsWsClient, socket: GatewaySocket, frames: object[], marker: string): Promise<void> {
  const done = nextOf(client, "event", (e) => e.eventId === marker);
  for (const frame of frames) socket.send(frame);
  socket.send(statusEvent(marker));
  await done;
}

async function live(client: SmsWsClient, authOk: object) {
  const socket = await gateway.nextConnection();
  const auth = await socket.nextMessage();
  const isLive = reachState(client, "live");
  socket.send(authOk);
  await isLive;
  return { socket, auth };
}

describe("SmsWsClient with getToken: connecting", () => {
  it("fetches a token for every connection and sends it where the seed protocol puts the key", async () => {
    const { getToken } = tokenSource();
    const { client } = connect(getToken);
    const { socket, auth } = await live(client, { type: "auth_ok", epoch: "E1" });
    expect(auth).toEqual({ type: "auth", apiKey: "tok-1" });
    await sendAndSettle(client, socket, [statusEvent("e1", 7)], "e2");

    socket.close(1001);
    const second = await gateway.nextConnection();
    expect(await second.nextMessage()).toEqual({ type: "auth", apiKey: "tok-2", resume: { epoch: "E1", seq: 7 } });
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it("reports a failing getToken as a non-fatal error and retries with the reconnect backoff", async () => {
    const { getToken, state } = tokenSource();
    state.fail = true;
    const { client } = connect(getToken);
    const error = nextOf(client, "error");
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    const failure = await error;
    expect(failure).toMatchObject({ code: "TOKEN_FETCH_FAILED", fatal: false, message: "getToken failed: backend down (call 1)" });
    state.fail = false;
    expect(await reconnecting).toMatchObject({ previous: "connecting", attempt: 1, delayMs: 5 });
    const { auth } = await live(client, { type: "auth_ok" });
    expect(auth).toEqual({ type: "auth", apiKey: "tok-2" });
    expect(gateway.connectionCount).toBe(1); // no socket was opened without a token
  });

  it.each([
    ["returns an empty string", () => "", /getToken returned no token/],
    ["returns a non-string", () => 42 as unknown as string, /getToken returned no token/],
    ["throws synchronously", () => {
      throw new Error("no session");
    }, /no session/],
  ])("counts a getToken that %s as failed", async (_name, first, message) => {
    let calls = 0;
    const { client } = connect(() => (++calls === 1 ? first() : "tok-ok"));
    expect(await nextOf(client, "error")).toMatchObject({ code: "TOKEN_FETCH_FAILED", message: expect.stringMatching(message) });
    const { auth } = await live(client, { type: "auth_ok" });
    expect(auth.apiKey).toBe("tok-ok");
  });

  it("gives up on a getToken that does not answer within 30 s", async () => {
    let calls = 0;
    const { client, clock } = connect(() => (++calls === 1 ? new Promise<string>(() => {}) : "tok-2"));
    const error = nextOf(client, "error");
    clock.advance(29_999);
    expect(client.state).toBe("connecting");
    clock.advance(1);
    expect(await error).toMatchObject({ code: "TOKEN_FETCH_FAILED", message: "getToken failed: no answer within 30000 ms" });
    const { auth } = await live(client, { type: "auth_ok" });
    expect(auth.apiKey).toBe("tok-2");
  });

  it("with reconnect: false, a failed getToken closes the client with a fatal error", async () => {
    const { getToken, state } = tokenSource();
    state.fail = true;
    const { client, clock } = connect(getToken, { reconnect: false });
    const closed = reachState(client, "closed");
    expect(await closed).toMatchObject({ error: { code: "TOKEN_FETCH_FAILED", fatal: true } });
    await expect(client.items().next()).rejects.toBeInstanceOf(SmsWsError);
    expect(clock.pending).toBe(0);
  });

  it("close() while getToken is pending opens no socket and leaves nothing scheduled", async () => {
    let release: (token: string) => void = () => {};
    let sockets = 0;
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets++;
      }
    }
    const { client, clock } = connect(() => new Promise<string>((resolve) => (release = resolve)), { WebSocket: CountingWebSocket });
    expect(clock.pending).toBe(1); // the getToken deadline
    client.close();
    expect(clock.pending).toBe(0);
    release("tok-late");
    await new Promise((resolve) => setImmediate(resolve));
    expect(sockets).toBe(0);
    expect(client.state).toBe("closed");
  });

  it("needs exactly one of apiKey and getToken", () => {
    const base = { url: gateway.url, WebSocket };
    expect(() => createClient({ ...base })).toThrow(/exactly one of apiKey/);
    expect(() => createClient({ ...base, apiKey: "k", getToken: () => "t" })).toThrow(/exactly one of apiKey/);
    expect(() => createClient({ ...base, getToken: "tok" as unknown as GetToken })).toThrow(/getToken is invalid/);
  });
});

describe("SmsWsClient with getToken: refresh", () => {
  it("sends refresh with a new token before exp, on the same socket, and again after refresh_ok", async () => {
    const { getToken } = tokenSource();
    const { client, clock } = connect(getToken);
    const { socket } = await live(client, { type: "auth_ok", epoch: "E1", exp: START_S + 900 });
    // 900 s left: margin 60 s, jitter 0.5 * 60 s.
    expect(clock.heldDelays()).toEqual([810_000]);
    clock.advance(809_999);
    expect(getToken).toHaveBeenCalledTimes(1);
    clock.advance(1);
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(await socket.nextMessage()).toEqual({ type: "refresh", token: "tok-2" });

    await sendAndSettle(client, socket, [{ type: "refresh_ok", exp: START_S + 810 + 900 }], "after-refresh");
    expect(clock.heldDelays()).toEqual([810_000]);
    clock.advance(810_000);
    expect(await socket.nextMessage()).toEqual({ type: "refresh", token: "tok-3" });
    expect(gateway.connectionCount).toBe(1);
    expect(client.state).toBe("live");
  });

  it("retries a failing getToken with backoff while the token is still valid", async () => {
    const { getToken, state } = tokenSource();
    const { client, clock } = connect(getToken);
    const { socket } = await live(client, { type: "auth_ok", exp: START_S + 900 });
    state.fail = true;
    const errors: SmsWsError[] = [];
    client.on("error", (e) => errors.push(e));

    let failed = nextOf(client, "error");
    clock.advance(810_000);
    await failed;
    expect(clock.heldDelays()).toEqual([500]); // full jitter of 1 s, random 0.5
    failed = nextOf(client, "error");
    clock.advance(500);
    await failed;
    expect(clock.heldDelays()).toEqual([1000]);
    state.fail = false;
    clock.advance(1000);
    expect(await socket.nextMessage()).toEqual({ type: "refresh", token: "tok-4" });
    expect(errors.map((e) => [e.code, e.fatal, e.message])).toEqual([
      ["TOKEN_FETCH_FAILED", false, "getToken failed while refreshing: backend down (call 2)"],
      ["TOKEN_FETCH_FAILED", false, "getToken failed while refreshing: backend down (call 3)"],
    ]);
    expect(client.state).toBe("live");
  });

  it("stops retrying at expiry; the server's 4419 then brings a fresh token, a reconnect and a resume", async () => {
    const { getToken, state } = tokenSource();
    const { client, clock } = connect(getToken);
    const { socket } = await live(client, { type: "auth_ok", epoch: "E1", exp: START_S + 120 });
    await sendAndSettle(client, socket, [statusEvent("e1", 41)], "e2");
    state.fail = true;
    let failures = 0;
    client.on("error", () => failures++);
    // 120 s left: margin 12 s, refresh at 102 s; then retries 0.5, 1, 2, 4, 8, then the last 2.5 s.
    for (const step of [102_000, 500, 1000, 2000, 4000, 8000, 2500]) {
      const failed = nextOf(client, "error");
      clock.advance(step);
      await failed;
    }
    expect(failures).toBe(7);
    expect(clock.now()).toBe(START_MS + 120_000);
    expect(clock.heldDelays()).toEqual([]); // nothing more until the server acts

    state.fail = false;
    const reconnecting = nextOf(client, "state", (c) => c.state === "reconnecting");
    socket.send({ type: "auth_error", error: "Token expired" });
    socket.close(4419, "Token expired");
    expect(await reconnecting).toMatchObject({ closeCode: 4419, previous: "live" });
    const second = await gateway.nextConnection();
    expect(await second.nextMessage()).toEqual({ type: "auth", apiKey: "tok-9", resume: { epoch: "E1", seq: 41 } });
    expect(failures).toBe(7); // a 4419 is no error
  });

  it("a 4419 is never fatal: fresh token, reconnect, resume", async () => {
    const { getToken } = tokenSource();
    const { client } = connect(getToken);
    const fatal: SmsWsError[] = [];
    client.on("error", (e) => e.fatal && fatal.push(e));
    const { socket } = await live(client, { type: "auth_ok", epoch: "E1", exp: START_S + 900 });
    await sendAndSettle(client, socket, [statusEvent("e1", 3)], "e2");
    socket.send({ type: "auth_error", error: "Token expired" });
    socket.close(4419, "Token expired");
    const second = await gateway.nextConnection();
    expect(await second.nextMessage()).toEqual({ type: "auth", apiKey: "tok-2", resume: { epoch: "E1", seq: 3 } });
    const resumed = nextOf(client, "resumed");
    second.send({ type: "auth_ok", epoch: "E1", exp: START_S + 1800 });
    second.send({ type: "resumed", replayed: 0 });
    expect(await resumed).toEqual({ replayed: 0, from: { epoch: "E1", seq: 3 } });
    expect(fatal).toEqual([]);
  });

  it("stops with the server's message when a refresh is refused (auth_error, 4401)", async () => {
    const { getToken } = tokenSource();
    const { client, clock } = connect(getToken);
    const { socket } = await live(client, { type: "auth_ok", exp: START_S + 900 });
    clock.advance(810_000);
    expect(await socket.nextMessage()).toEqual({ type: "refresh", token: "tok-2" });
    const closed = reachState(client, "closed");
    socket.send({ type: "auth_error", error: "Invalid token" });
    socket.close(4401, "Invalid token");
    expect(await closed).toMatchObject({ closeCode: 4401, error: { code: "AUTH_FAILED", fatal: true, message: "Invalid token" } });
    expect(clock.pending).toBe(0);
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it("drops the refresh timer when the socket goes away", async () => {
    const { getToken } = tokenSource();
    const { client, clock } = connect(getToken);
    const { socket } = await live(client, { type: "auth_ok", exp: START_S + 900 });
    expect(clock.heldDelays()).toEqual([810_000]);
    const reconnecting = reachState(client, "reconnecting");
    socket.close(1001);
    await reconnecting;
    expect(clock.heldDelays()).toEqual([]);
  });
});

describe("SmsWsClient with apiKey", () => {
  it("ignores exp and refresh_ok, and never schedules a refresh", async () => {
    const clock = new ManualClock(START_MS);
    const client = createClient({ url: gateway.url, apiKey: "key_1", WebSocket, pingIntervalMs: 0, timers: clock, now: clock.now });
    clients.push(client);
    const { socket, auth } = await live(client, { type: "auth_ok", exp: START_S + 60 });
    expect(auth).toEqual({ type: "auth", apiKey: "key_1" });
    await sendAndSettle(client, socket, [{ type: "refresh_ok", exp: START_S + 120 }], "e1");
    expect(clock.pending).toBe(0);
  });
});

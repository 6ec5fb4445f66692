/**
 * The SDK's filter and watches against the scripted fake gateway: the filter in every auth,
 * watch/unwatch answered by watch_ok, and the followed set carried over reconnects.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createClient, type ClientOptions, type SmsWsClient } from "../../../src/client/index.js";
import { parseServerFrame } from "../../../src/client/frames.js";
import { nextOf, reachState, startFakeGateway, type FakeGateway } from "./fake-gateway.js";

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
  const client = createClient({ url: gateway.url, apiKey: "key_1", WebSocket, random: () => 0, reconnect: { initialDelayMs: 10, maxDelayMs: 100 }, ...options });
  clients.push(client);
  return client;
}

describe("client filters and watches", () => {
  it("sends the filter in the auth message", async () => {
    connect({ filter: { types: ["sms_status"], statuses: ["failed", "undelivered"] } });
    const { auth } = await gateway.acceptNext();
    expect(auth).toEqual({ type: "auth", apiKey: "key_1", filter: { types: ["sms_status"], statuses: ["failed", "undelivered"] } });
  });

  it("watch and unwatch send frames and resolve with the server's count", async () => {
    const client = connect({ filter: { messageIds: [] } });
    const live = reachState(client, "live");
    const { socket, auth } = await gateway.acceptNext();
    expect(auth).toEqual({ type: "auth", apiKey: "key_1", filter: { messageIds: [] } });
    await live;
    const watched = client.watch(["m1", "m2"]);
    expect(await socket.nextMessage()).toEqual({ type: "watch", messageIds: ["m1", "m2"] });
    socket.send({ type: "watch_ok", count: 2 });
    expect(await watched).toBe(2);
    const unwatched = client.unwatch(["m1"]);
    expect(await socket.nextMessage()).toEqual({ type: "unwatch", messageIds: ["m1"] });
    socket.send({ type: "watch_ok", count: 1 });
    expect(await unwatched).toBe(1);
    // Nothing new: no frame, the client's own count at once.
    expect(await client.watch(["m2"])).toBe(1);
  });

  it("watches survive reconnects: the set goes in the next auth, the overflow right behind it", async () => {
    const client = connect({ filter: { types: ["sms_status"], messageIds: ["m0"] } });
    const live = reachState(client, "live");
    const { socket } = await gateway.acceptNext();
    await live;
    const many = Array.from({ length: 30 }, (_, i) => `w${i}`);
    const watched = client.watch(many);
    expect(await socket.nextMessage()).toEqual({ type: "watch", messageIds: many });
    // The socket drops before the answer: the promise resolves with the client's own count.
    socket.close(1001, "draining");
    expect(await watched).toBe(31);
    const next = await gateway.nextConnection();
    const auth = await next.nextMessage();
    const all = ["m0", ...many];
    expect(auth).toMatchObject({ type: "auth", filter: { types: ["sms_status"], messageIds: all.slice(0, 20) } });
    expect(await next.nextMessage()).toEqual({ type: "watch", messageIds: all.slice(20) });
    // The answer to that re-sent watch is the client's business, not a caller's.
    next.send({ type: "watch_ok", count: 31 });
    next.send({ type: "auth_ok", epoch: "E1" });
    await reachState(client, "live");
    const more = client.watch(["x"]);
    expect(await next.nextMessage()).toEqual({ type: "watch", messageIds: ["x"] });
    next.send({ type: "watch_ok", count: 32 });
    expect(await more).toBe(32);
  });

  it("watch without a messageIds filter is refused locally", async () => {
    const client = connect({ filter: { types: ["sms_status"] } });
    await expect(client.watch(["m1"])).rejects.toThrow(/needs a filter with messageIds/);
    await expect(connect().unwatch(["m1"])).rejects.toThrow(TypeError);
  });

  it("a bad filter option is a TypeError naming it", () => {
    expect(() => connect({ filter: { statuses: "failed" as unknown as string[] } })).toThrow(/filter.statuses/);
  });

  it("parses watch_ok", () => {
    expect(parseServerFrame('{"type":"watch_ok","count":3}')).toEqual({ type: "watch_ok", count: 3, ignored: 0 });
    expect(parseServerFrame('{"type":"watch_ok","count":3,"ignored":2}')).toEqual({ type: "watch_ok", count: 3, ignored: 2 });
    expect(parseServerFrame('{"type":"watch_ok"}')).toMatchObject({ type: "invalid" });
  });

  it("the error listener sees nothing for a watch_ok nobody waits for", async () => {
    const client = connect({ filter: { messageIds: [] } });
    const live = reachState(client, "live");
    const { socket } = await gateway.acceptNext();
    await live;
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    socket.send({ type: "watch_ok", count: 0 });
    socket.send({ type: "sms_status", eventId: "e1", messageId: "m", appId: "a", tenantId: "t", status: "sent", timestamp: "x" });
    await nextOf(client, "event");
    expect(errors).toEqual([]);
  });
});

/** The SDK's tenant routing hint: the URL it opens, from the option or from a token's claims. */
import { describe, expect, it } from "vitest";
import { createClient, type WebSocketLike } from "../../../src/client/index.js";
import { routedUrl, tokenTenant } from "../../../src/client/routing.js";
import { createConnectionToken, generateSignerKeyPair } from "../../../src/tokens/index.js";

/** Records the URL of every socket the client opens; the sockets never connect. */
function recorder(): { urls: string[]; WebSocket: new (url: string) => WebSocketLike } {
  const urls: string[] = [];
  class RecordingWebSocket implements WebSocketLike {
    readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    constructor(url: string) {
      urls.push(url);
    }
    send(): void {}
    close(): void {
      this.readyState = 3;
    }
  }
  return { urls, WebSocket: RecordingWebSocket };
}

describe("routedUrl", () => {
  it("adds tenant=<id>, keeps the rest of the URL, replaces an earlier hint", () => {
    expect(routedUrl("wss://sms.example.com/ws", "acme", 1, Math.random)).toBe("wss://sms.example.com/ws?tenant=acme");
    expect(routedUrl("ws://h:8080/ws?x=1&tenant=old", "acme", 1, Math.random)).toBe("ws://h:8080/ws?x=1&tenant=acme");
    expect(routedUrl("ws://h/ws", undefined, 4, Math.random)).toBe("ws://h/ws");
    expect(routedUrl("not a url", "acme", 1, Math.random)).toBe("not a url");
  });

  it("spreads a big tenant over slots [0, k): tenant=<id>:<slot>", () => {
    expect(routedUrl("ws://h/ws", "big", 4, () => 0)).toBe("ws://h/ws?tenant=big%3A0");
    expect(routedUrl("ws://h/ws", "big", 4, () => 0.999999)).toBe("ws://h/ws?tenant=big%3A3");
    expect(new URL(routedUrl("ws://h/ws", "big", 4, () => 0.5)).searchParams.get("tenant")).toBe("big:2");
  });
});

describe("tokenTenant", () => {
  it("reads the tenantId claim of a connection token, without verifying it", () => {
    const { privateKeyPem } = generateSignerKeyPair();
    const token = createConnectionToken({ privateKey: privateKeyPem, kid: "k1", tenantId: "acme-1", appId: "a", ttlSeconds: 60, sub: "ünïcode" });
    expect(tokenTenant(token)).toBe("acme-1");
  });

  it("gives nothing for what is not a readable JWT with a tenant id", () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    expect(tokenTenant("sk_live_abcdef")).toBeUndefined();
    expect(tokenTenant(`${b64({})}.${b64({ tenantId: "bad tenant" })}.sig`)).toBeUndefined();
    expect(tokenTenant(`${b64({})}.%%%.sig`)).toBeUndefined();
    expect(tokenTenant(`${b64({})}.${b64({ appId: "a" })}.sig`)).toBeUndefined();
  });
});

describe("client URL", () => {
  it("API-key clients send the tenantHint option, or no hint at all", () => {
    const a = recorder();
    createClient({ url: "ws://127.0.0.1:1/ws", apiKey: "k", WebSocket: a.WebSocket, pingIntervalMs: 0 }).close();
    const b = recorder();
    createClient({ url: "ws://127.0.0.1:1/ws", apiKey: "k", tenantHint: "acme", WebSocket: b.WebSocket, pingIntervalMs: 0 }).close();
    expect(a.urls).toEqual(["ws://127.0.0.1:1/ws"]);
    expect(b.urls).toEqual(["ws://127.0.0.1:1/ws?tenant=acme"]);
  });

  it("token clients take the tenant from each token, with slots when configured", async () => {
    const { privateKeyPem } = generateSignerKeyPair();
    const token = createConnectionToken({ privateKey: privateKeyPem, kid: "k1", tenantId: "globex", appId: "a", ttlSeconds: 60 });
    const r = recorder();
    const client = createClient({ url: "ws://127.0.0.1:1/ws", getToken: () => token, tenantSlots: 8, random: () => 0.3, WebSocket: r.WebSocket, pingIntervalMs: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    client.close();
    expect(r.urls).toEqual(["ws://127.0.0.1:1/ws?tenant=globex%3A2"]);
  });

  it("refuses a malformed tenantHint or tenantSlots, naming the option", () => {
    const { WebSocket } = recorder();
    const base = { url: "ws://h/ws", apiKey: "k", WebSocket };
    expect(() => createClient({ ...base, tenantHint: "a b" })).toThrow(/tenantHint/);
    expect(() => createClient({ ...base, tenantSlots: 0 })).toThrow(/tenantSlots/);
    expect(() => createClient({ ...base, tenantSlots: 1.5 })).toThrow(/tenantSlots/);
  });
});

/**
 * refresh (W-8): a new token's filter ceiling narrows the socket's filter, never widens it; and a
 * token refreshed with again is re-checked without its signature (src/tokens/refresh-scope.ts).
 */
import { describe, expect, it } from "vitest";
import { ClientProtocolError } from "../../src/errors.js";
import { NO_FILTER, parseFilter, type EventFilter } from "../../src/scope/filter.js";
import { SocketFilter, type FilterSubscriptions } from "../../src/scope/socket-filter.js";
import type { Feed } from "../../src/scope/scope.js";
import { recheckToken } from "../../src/tokens/refresh-scope.js";
import type { TokenAccepted } from "../../src/tokens/verdict.js";

const feeds = [{ topic: "sms.t.a" }, { topic: "sms.t" }] as unknown as Feed[];
const limits = { maxMessageIds: 1000, maxTopics: 4096 };

function recorder(): FilterSubscriptions & { topics: Set<string> } {
  const topics = new Set<string>();
  return {
    topics,
    subscribe: (_f, t) => void topics.add(t.topic),
    unsubscribe: (_f, t) => void topics.delete(t.topic),
  };
}

function live(filter: EventFilter, ceiling: EventFilter): { f: SocketFilter; port: ReturnType<typeof recorder> } {
  const f = new SocketFilter(filter, ceiling, feeds, limits);
  const port = recorder();
  f.goLive(port);
  return { f, port };
}

describe("SocketFilter.narrow", () => {
  it("drops watched ids outside the new ceiling and leaves their topics; a watch of a dropped id is then ignored", () => {
    const { f, port } = live(parseFilter({ messageIds: ["m1", "m2"] }), parseFilter({ messageIds: ["m1", "m2", "m3"] }));
    expect(port.topics.has("sms.t.a|m:m2")).toBe(true);
    f.narrow(parseFilter({ messageIds: ["m1"] }), port);
    expect([...(f.filter.messageIds ?? [])]).toEqual(["m1"]);
    expect([...port.topics].filter((t) => t.includes("|m:")).sort()).toEqual(["sms.t.a|m:m1", "sms.t|m:m1"]);
    expect(f.watch(["m2", "m3"], port)).toEqual({ count: 1, ignored: 2 });
    expect(port.topics.has("sms.t.a|m:m2")).toBe(false);
  });

  it("never widens: a token without a ceiling, or a wider one, changes nothing", () => {
    const { f, port } = live(parseFilter({ messageIds: ["m1"], statuses: ["sent"] }), parseFilter({ messageIds: ["m1"], statuses: ["sent"] }));
    const before = [...port.topics].sort();
    f.narrow(NO_FILTER, port);
    f.narrow(parseFilter({ messageIds: ["m1", "m9"], statuses: ["sent", "failed"] }), port);
    expect([...port.topics].sort()).toEqual(before);
    expect(f.watch(["m9"], port)).toEqual({ count: 1, ignored: 1 });
    expect([...(f.ceiling.statuses ?? [])]).toEqual(["sent"]);
  });

  it("moves the topics when statuses narrow (a message topic becomes per-status topics)", () => {
    const { f, port } = live(parseFilter({ messageIds: ["m1"] }), NO_FILTER);
    f.narrow(parseFilter({ statuses: ["delivered"] }), port);
    expect([...port.topics].sort()).toEqual(["sms.t.a|m:m1|s:delivered", "sms.t.a|m:m1|t:sms_inbound", "sms.t|m:m1|s:delivered", "sms.t|m:m1|t:sms_inbound", "sms.t|ping"]);
    expect(f.allows({ type: "sms_status", messageId: "m1", status: "sent" } as never)).toBe(false);
    expect(f.allows({ type: "sms_status", messageId: "m1", status: "delivered" } as never)).toBe(true);
  });

  it("refuses (4400) a narrowing that would need more topics than allowed, leaving the socket as it was", () => {
    const ids = Array.from({ length: 100 }, (_, i) => `m${i}`);
    const f = new SocketFilter(parseFilter({ messageIds: ids }), NO_FILTER, feeds, { maxMessageIds: 1000, maxTopics: 300 });
    const port = recorder();
    f.goLive(port);
    const before = [...port.topics];
    expect(() => f.narrow(parseFilter({ statuses: ["a", "b", "c"] }), port)).toThrow(ClientProtocolError);
    expect([...port.topics]).toEqual(before);
    expect(f.filter.statuses).toBeUndefined();
  });

  it("before going live, narrows the filter only (goLive then joins the narrower topics)", () => {
    const f = new SocketFilter(parseFilter({ messageIds: ["m1", "m2"] }), NO_FILTER, feeds, limits);
    const port = recorder();
    f.narrow(parseFilter({ messageIds: ["m2"] }), port);
    expect(port.topics.size).toBe(0);
    f.goLive(port);
    expect([...port.topics].filter((t) => t.includes("|m:")).sort()).toEqual(["sms.t.a|m:m2", "sms.t|m:m2"]);
  });
});

describe("recheckToken", () => {
  const verdict: TokenAccepted = {
    ok: true,
    claims: { tenantId: "t", appId: "a", iat: 0, exp: 100, jti: "j1" } as never,
    scope: { role: "app", tenantId: "t", appId: "a" },
    kid: "k1",
    expMs: 100_000,
  };
  const signer = { tenantId: "t", publicKey: "x", createdAt: "" };
  const deps = (over: Partial<{ signer: unknown; revoked: boolean; now: number }> = {}) => ({
    signer: () => ("signer" in over ? over.signer : signer) as never,
    isRevoked: () => over.revoked ?? false,
    nowMs: () => over.now ?? 50_000,
  });

  it("returns the verdict while its signer, jti and lifetime still hold", () => {
    expect(recheckToken(verdict, deps())).toBe(verdict);
  });

  it("refuses once the signer is gone or rebound, the jti revoked, or the token expired", () => {
    expect(recheckToken(verdict, deps({ signer: undefined }))).toMatchObject({ ok: false, outcome: "token_invalid" });
    expect(recheckToken(verdict, deps({ signer: { ...signer, tenantId: "other" } }))).toMatchObject({ ok: false, outcome: "token_invalid" });
    expect(recheckToken(verdict, deps({ revoked: true }))).toMatchObject({ ok: false, outcome: "token_revoked" });
    expect(recheckToken(verdict, deps({ now: 105_000 }))).toMatchObject({ ok: false, outcome: "token_expired" });
  });
});

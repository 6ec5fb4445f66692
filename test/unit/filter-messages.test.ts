/** What filter-related client frames mean: the auth message's filter, watch and unwatch. */
import { describe, expect, it } from "vitest";
import { authenticate } from "../../src/protocol/authenticate.js";
import { parseClientMessage } from "../../src/protocol/client-messages.js";
import { watchOkFrame } from "../../src/protocol/server-messages.js";

const frame = (value: unknown): ArrayBuffer => new TextEncoder().encode(JSON.stringify(value)).buffer as ArrayBuffer;
const credentials = {
  apiKey: (key: string) => (key === "k" ? { hash: "h", record: { role: "app", tenantId: "t", appId: "a", createdAt: "x" } as never } : undefined),
  token: () => ({ ok: false }) as never,
};

describe("filter frames", () => {
  it("carries the auth message's filter into the decision, refusing a malformed one with 4400", () => {
    const ok = authenticate(frame({ type: "auth", apiKey: "k", filter: { types: ["sms_inbound"] } }), false, credentials);
    expect(ok).toMatchObject({ type: "accept", requestedFilter: { types: new Set(["sms_inbound"]) } });
    expect(authenticate(frame({ type: "auth", apiKey: "k" }), false, credentials)).not.toHaveProperty("requestedFilter");
    const bad = authenticate(frame({ type: "auth", apiKey: "k", filter: { types: ["x"] } }), false, credentials);
    expect(bad).toMatchObject({ type: "reject", outcome: "bad_request", refusal: { code: 4400 } });
  });

  it("parses watch and unwatch; a malformed one is invalid (4400), never ignored", () => {
    expect(parseClientMessage(frame({ type: "watch", messageIds: ["m1", "m2"] }), false)).toEqual({ type: "watch", messageIds: ["m1", "m2"] });
    expect(parseClientMessage(frame({ type: "unwatch", messageIds: [] }), false)).toEqual({ type: "unwatch", messageIds: [] });
    expect(parseClientMessage(frame({ type: "watch", messageIds: "m1" }), false)).toMatchObject({ type: "invalid" });
    expect(parseClientMessage(frame({ type: "watch", messageIds: ["a b"] }), false)).toMatchObject({ type: "invalid", reason: /not a message id/ });
    expect(parseClientMessage(frame({ type: "watch", messageIds: Array.from({ length: 101 }, (_, i) => `m${i}`) }), false)).toMatchObject({ type: "invalid" });
    expect(parseClientMessage(frame({ type: "watchers" }), false)).toEqual({ type: "other" });
    expect(watchOkFrame(3, 0)).toBe('{"type":"watch_ok","count":3}');
    expect(watchOkFrame(3, 2)).toBe('{"type":"watch_ok","count":3,"ignored":2}');
  });
});

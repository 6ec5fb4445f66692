/** The client frame limit is derived from the longest token (W-11): a maximal token always fits. */
import { describe, expect, it } from "vitest";
import { parseAuthMessage, parseClientMessage } from "../../../src/protocol/client-messages.js";
import { CLIENT_FRAME_ENVELOPE_BYTES, MAX_CLIENT_FRAME_BYTES, TOKEN_MAX_LENGTH } from "../../../src/tokens/limits.js";

const frame = (value: unknown): ArrayBuffer => {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
};

describe("client frame limit", () => {
  const token = "A".repeat(TOKEN_MAX_LENGTH);

  it("is the longest token plus the envelope", () => {
    expect(MAX_CLIENT_FRAME_BYTES).toBe(TOKEN_MAX_LENGTH + CLIENT_FRAME_ENVELOPE_BYTES);
  });

  it("holds an auth frame with a maximal token, a full resume and a filter", () => {
    const auth = frame({
      type: "auth",
      token,
      resume: { positions: Array.from({ length: 16 }, (_, i) => ({ epoch: "e".repeat(32), seq: 2 ** 40 + i })) },
      filter: { types: ["sms_status"], statuses: ["delivered", "failed"], messageIds: Array.from({ length: 20 }, (_, i) => `message-${i}`) },
    });
    expect(auth.byteLength).toBeGreaterThan(TOKEN_MAX_LENGTH);
    expect(auth.byteLength).toBeLessThanOrEqual(MAX_CLIENT_FRAME_BYTES);
    expect(parseAuthMessage(auth, false).credential).toBe(token);
  });

  it("holds a refresh frame with a maximal token", () => {
    const refresh = frame({ type: "refresh", token });
    expect(refresh.byteLength).toBeLessThanOrEqual(MAX_CLIENT_FRAME_BYTES);
    expect(parseClientMessage(refresh, false)).toEqual({ type: "refresh", token });
  });

  it("refuses a credential one character longer than a maximal token", () => {
    expect(() => parseAuthMessage(frame({ type: "auth", token: `${token}A` }), false)).toThrow(/token is too long/);
  });
});

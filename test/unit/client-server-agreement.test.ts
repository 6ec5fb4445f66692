/**
 * The server and the SDK cannot drift: every frame the server builds parses in the SDK as what it
 * is, and every close code the server sends has an explicit entry in the shared table, with the
 * action a client must take.
 */
import { describe, expect, it } from "vitest";
import { decodeBusEvent } from "../../src/bus/event-decoder.js";
import { CLOSE_ACTIONS, closeAction, CloseCode } from "../../src/client/close-codes.js";
import { parseServerFrame } from "../../src/client/frames.js";
import { Refusals } from "../../src/protocol/refusal.js";
import { authErrorFrame, authOkFrame, PING_FRAME, resumedFrame, resumeFailedFrame, type ResumeFailure } from "../../src/protocol/server-messages.js";
import { encodeEvent, prepareEvent } from "../../src/publisher/index.js";

describe("server frames through the SDK's parser", () => {
  it("control frames", () => {
    expect(parseServerFrame(PING_FRAME)).toEqual({ type: "ping" });
    expect(parseServerFrame(authOkFrame(undefined))).toEqual({ type: "auth_ok" });
    expect(parseServerFrame(authOkFrame("2026-01-01T00:00:00.000Z"))).toEqual({ type: "auth_ok", epoch: "2026-01-01T00:00:00.000Z" });
    expect(parseServerFrame(resumedFrame(7))).toEqual({ type: "resumed", replayed: 7 });
    for (const reason of ["retention", "epoch", "limit", "unavailable"] satisfies ResumeFailure[]) {
      expect(parseServerFrame(resumeFailedFrame(reason))).toEqual({ type: "resume_failed", reason });
    }
    for (const refusal of Object.values(Refusals)) {
      expect(parseServerFrame(authErrorFrame(refusal.reason))).toEqual({ type: "auth_error", error: refusal.reason });
    }
  });

  it("event frames, with and without the optional fields and seq", () => {
    const inputs = [
      { type: "sms_status", messageId: "m1", tenantId: "t", appId: "a", status: "sent" },
      { type: "sms_status", messageId: "m2", tenantId: "t", appId: "a", status: "failed", error: "no route", rcMessageId: "9" },
      { type: "sms_inbound", messageId: "m3", tenantId: "t", from: "+1", to: "+2", body: "" },
      { type: "sms_inbound", messageId: "m4", tenantId: "t", appId: "a", from: "+1", to: "+2", body: "hi", rcMessageId: "8" },
    ];
    for (const [i, input] of inputs.entries()) {
      const event = prepareEvent(input);
      const subject = `sms.t.${event.appId ?? "_"}.${event.type === "sms_status" ? "status" : "inbound"}`;
      for (const seq of [undefined, i + 1]) {
        const decoded = decodeBusEvent(subject, encodeEvent(event), seq);
        expect(parseServerFrame(decoded.frame)).toEqual({ type: "event", event: decoded.event });
      }
    }
  });
});

describe("close codes through the SDK's reconnect decision", () => {
  it("every code the server sends has an explicit entry", () => {
    const sent = new Set<number>([...Object.values(Refusals).map((r) => r.code), ...Object.values(CloseCode)]);
    for (const code of sent) expect(Object.keys(CLOSE_ACTIONS).map(Number), `close code ${code}`).toContain(code);
  });

  it("credentials and malformed clients stop; everything else reconnects and resumes", () => {
    expect(closeAction(Refusals.invalidKey.code)).toEqual({ kind: "stop", error: "AUTH_FAILED" });
    expect(closeAction(Refusals.revoked.code)).toEqual({ kind: "stop", error: "AUTH_FAILED" });
    expect(closeAction(CloseCode.BadRequest)).toEqual({ kind: "stop", error: "BAD_REQUEST" });
    expect(closeAction(CloseCode.Forbidden)).toEqual({ kind: "stop", error: "FORBIDDEN" });
    expect(closeAction(CloseCode.TokenExpired)).toEqual({ kind: "reconnect", freshCredential: true });
    // An operator's kick: the SDK does not reconnect by itself (the key stays valid).
    expect(closeAction(Refusals.kicked.code)).toEqual({ kind: "stop", error: "KICKED" });
    expect(Refusals.kicked).toEqual({ code: 4410, reason: "Kicked by an operator" });
    for (const r of [Refusals.timeout, Refusals.tenantLimit, Refusals.slowConsumer, Refusals.replayStalled, Refusals.replayBehind, Refusals.shuttingDown, Refusals.maxLifetime, Refusals.resync, Refusals.retry]) {
      expect(closeAction(r.code).kind, r.reason).toBe("reconnect");
    }
    expect(closeAction(1006)).toEqual({ kind: "reconnect" });
  });
});

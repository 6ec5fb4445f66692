import { describe, expect, it } from "vitest";
import { parseServerFrame } from "../../../src/client/frames.js";
import { closeAction } from "../../../src/client/index.js";
import { inboundEvent, statusEvent } from "./fake-gateway.js";

describe("parseServerFrame", () => {
  it("reads the control frames", () => {
    expect(parseServerFrame('{"type":"ping"}')).toEqual({ type: "ping" });
    expect(parseServerFrame('{"type":"auth_ok"}')).toEqual({ type: "auth_ok" });
    expect(parseServerFrame('{"type":"auth_ok","epoch":"E1"}')).toEqual({ type: "auth_ok", epoch: "E1" });
    expect(parseServerFrame('{"type":"auth_error","error":"Invalid API key"}')).toEqual({ type: "auth_error", error: "Invalid API key" });
    expect(parseServerFrame('{"type":"resumed","replayed":4}')).toEqual({ type: "resumed", replayed: 4 });
    expect(parseServerFrame('{"type":"resume_failed","reason":"retention"}')).toEqual({ type: "resume_failed", reason: "retention" });
  });

  it("passes events through with their extra fields", () => {
    const status = { ...statusEvent("e1", 9), error: "RingCentral not connected", future: true };
    expect(parseServerFrame(JSON.stringify(status))).toEqual({ type: "event", event: status });
    const inbound = inboundEvent("e2");
    expect(parseServerFrame(JSON.stringify(inbound))).toEqual({ type: "event", event: inbound });
  });

  it("marks unknown types as unknown, to be ignored", () => {
    expect(parseServerFrame('{"type":"sms_mms","x":1}')).toEqual({ type: "unknown", name: "sms_mms" });
    expect(parseServerFrame('{"no":"type"}')).toEqual({ type: "unknown", name: "undefined" });
  });

  it("refuses frames that would lie about their type", () => {
    expect(parseServerFrame("not json").type).toBe("invalid");
    expect(parseServerFrame("[1]").type).toBe("invalid");
    expect(parseServerFrame("null").type).toBe("invalid");
    const { eventId: _drop, ...noId } = statusEvent("e1");
    expect(parseServerFrame(JSON.stringify(noId))).toEqual({ type: "invalid", problem: "sms_status without string eventId" });
    expect(parseServerFrame(JSON.stringify({ ...inboundEvent("e1"), appId: 5 })).type).toBe("invalid");
    expect(parseServerFrame(JSON.stringify(statusEvent("e1", -1))).type).toBe("invalid");
    expect(parseServerFrame(JSON.stringify({ ...statusEvent("e1"), seq: "7" })).type).toBe("invalid");
  });
});

describe("closeAction", () => {
  it.each([
    [4400, "BAD_REQUEST"],
    [4401, "AUTH_FAILED"],
    [4403, "FORBIDDEN"],
  ])("stops on %i", (code, error) => {
    expect(closeAction(code)).toEqual({ kind: "stop", error });
  });

  it.each([1000, 1001, 1006, 1011, 4000, 4408, 4429, 4999])("reconnects on %i", (code) => {
    expect(closeAction(code)).toEqual({ kind: "reconnect" });
  });

  it("reconnects on 1009 but reports it", () => {
    expect(closeAction(1009)).toEqual({ kind: "reconnect", error: "MESSAGE_TOO_BIG" });
  });
});

import { pack } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeBusEvent, parseSequence } from "../../src/bus/event-decoder.js";
import { InvalidEventError } from "../../src/errors.js";
import { normalizeEvent } from "../../src/events/event.js";
import { prepareEvent } from "../../src/publisher/index.js";

const status = { type: "sms_status", eventId: "e", messageId: "m", appId: "a", tenantId: "t", status: "sent", timestamp: "2026-03-01T10:00:01.000Z" };
const inbound = { type: "sms_inbound", eventId: "e", messageId: "m", from: "+1", to: "+2", body: "hi", tenantId: "t", timestamp: "2026-03-01T10:00:01.000Z" };

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidEventError) return err.reason;
    throw err;
  }
  return undefined;
}

describe("normalizeEvent", () => {
  it("keeps the seed's field order and drops unknown fields and any payload seq", () => {
    const e = normalizeEvent({ extra: 1, seq: 99, ...status, rcMessageId: "rc", error: undefined });
    expect(JSON.stringify(e)).toBe(
      '{"type":"sms_status","eventId":"e","messageId":"m","appId":"a","tenantId":"t","status":"sent","rcMessageId":"rc","timestamp":"2026-03-01T10:00:01.000Z"}',
    );
    expect(JSON.stringify(normalizeEvent({ ...inbound, appId: "a", rcMessageId: "r" }))).toBe(
      '{"type":"sms_inbound","eventId":"e","messageId":"m","from":"+1","to":"+2","body":"hi","rcMessageId":"r","tenantId":"t","appId":"a","timestamp":"2026-03-01T10:00:01.000Z"}',
    );
  });

  it("passes any status string through and allows an empty inbound body", () => {
    expect(normalizeEvent({ ...status, status: "carrier_accepted" })).toMatchObject({ status: "carrier_accepted" });
    expect(normalizeEvent({ ...inbound, body: "" })).toMatchObject({ body: "" });
  });

  it.each([
    [{ ...status, messageId: undefined }, "missing_field"],
    [{ ...status, tenantId: "bad tenant" }, "missing_field"],
    [{ ...status, appId: "_" }, "missing_field"],
    [{ ...status, rcMessageId: 5 }, "missing_field"],
    [{ ...inbound, from: "" }, "missing_field"],
    [{ ...status, type: "sms_other" }, "missing_field"],
    [null, "decode"],
    [[1], "decode"],
  ])("rejects %j (%s)", (input, why) => {
    expect(reason(() => normalizeEvent(input))).toBe(why);
  });
});

describe("decodeBusEvent", () => {
  it("decodes, checks the subject and adds seq", () => {
    const d = decodeBusEvent("sms.t.a.status", pack(status), 7);
    expect(d.frame).toBe(JSON.stringify({ ...status, seq: 7 }));
    expect(d.tenantId).toBe("t");
    expect(decodeBusEvent("sms.t._.inbound", pack(inbound), undefined).frame).toBe(JSON.stringify(inbound));
  });

  it.each([
    ["sms.t.a.status", new Uint8Array([0xc1]), "decode"],
    ["sms.t.a.status", pack("a string"), "decode"],
    ["sms.t.a.status", pack(new Uint8Array([1, 2])), "decode"],
    ["sms.t.a.inbound", pack(status), "type_mismatch"],
    ["sms.x.a.status", pack(status), "tenant_mismatch"],
    ["sms.t.b.status", pack(status), "app_mismatch"],
    ["sms.t._.status", pack(status), "app_mismatch"],
    ["sms.t._.inbound", pack({ ...inbound, appId: "a" }), "app_mismatch"],
    ["sms.t.a.inbound", pack(inbound), "app_mismatch"],
    ["sms.t.a.other", pack(status), "bad_subject"],
    ["sms.t.a.b.status", pack(status), "bad_subject"],
  ])("rejects %s (%s)", (subject, data, why) => {
    expect(reason(() => decodeBusEvent(subject, data, undefined))).toBe(why);
  });

  it("parses Nats-Sequence defensively", () => {
    expect(parseSequence("12")).toBe(12);
    expect(parseSequence(undefined)).toBeUndefined();
    expect(parseSequence("")).toBeUndefined();
    expect(parseSequence("-1")).toBeUndefined();
    expect(parseSequence("x")).toBeUndefined();
  });
});

describe("prepareEvent", () => {
  it("fills eventId and timestamp when absent and keeps them when given", () => {
    const e = prepareEvent({ type: "sms_status", messageId: "m", appId: "a", tenantId: "t", status: "queued" });
    expect(e.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(e.timestamp)).not.toBeNaN();
    expect(prepareEvent({ ...status }).eventId).toBe("e");
  });
});

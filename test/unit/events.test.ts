import { pack, Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeBusEvent, parseSequence } from "../../src/bus/event-decoder.js";
import { InvalidEventError, REJECT_REASONS } from "../../src/errors.js";
import { EVENT_FIELD_MAX_LENGTH, MAX_EVENT_BYTES, normalizeEvent } from "../../src/events/event.js";
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
    [{ ...status, tenantId: "bad tenant" }, "bad_id"],
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

describe("normalizeEvent: ids, sizes and characters", () => {
  const NUL = "\u0000";
  const RLO = "\u202e";

  it.each([
    ["a 5000-character eventId", { ...status, eventId: "e".repeat(5000) }, "too_large"],
    ["a 65-character messageId", { ...status, messageId: "m".repeat(65) }, "too_large"],
    ["an eventId with a dot", { ...status, eventId: "evt.1" }, "bad_id"],
    ["an eventId with a space", { ...inbound, eventId: "e 1" }, "bad_id"],
    ["a messageId with NUL", { ...status, messageId: `msg${NUL}1` }, "bad_id"],
    ["a messageId with U+202E", { ...status, messageId: `msg${RLO}gpj.exe` }, "bad_id"],
    ["an inbound messageId with U+202E", { ...inbound, messageId: `${RLO}m` }, "bad_id"],
    ["a non-ASCII appId", { ...status, appId: "applé" }, "bad_id"],
    ["a 65-character tenantId", { ...status, tenantId: "t".repeat(65) }, "too_large"],
    ["an rcMessageId with U+202E", { ...status, rcMessageId: `rc${RLO}1` }, "bad_value"],
    ["an rcMessageId with NUL", { ...inbound, rcMessageId: `rc${NUL}` }, "bad_value"],
    ["a long rcMessageId", { ...status, rcMessageId: "r".repeat(129) }, "too_large"],
    ["a status with a newline", { ...status, status: "sent\nfake log line" }, "bad_value"],
    ["a status with DEL", { ...status, status: "sent\u007f" }, "bad_value"],
    ["a status with a C1 control", { ...status, status: "sent\u009b" }, "bad_value"],
    ["a status with U+2066", { ...status, status: "\u2066sent" }, "bad_value"],
    ["a long status", { ...status, status: "s".repeat(65) }, "too_large"],
    ["an error with a tab", { ...status, error: "carrier\trejected" }, "bad_value"],
    ["a long error", { ...status, error: "x".repeat(513) }, "too_large"],
    ["a from with U+202A", { ...inbound, from: "\u202a+15550001111" }, "bad_value"],
    ["a long to", { ...inbound, to: "1".repeat(65) }, "too_large"],
    ["a body with NUL", { ...inbound, body: `hi${NUL}there` }, "bad_value"],
    ["a long body", { ...inbound, body: "b".repeat(4097) }, "too_large"],
    ["a timestamp that is not a date", { ...status, timestamp: "yesterday" }, "bad_value"],
    ["a long timestamp", { ...status, timestamp: `2026-03-01T10:00:01.000Z${" ".repeat(20)}` }, "too_large"],
    ["a timestamp with a control character", { ...inbound, timestamp: "2026-03-01T10:00:01Z\r" }, "bad_value"],
    ["a body that is not a string", { ...inbound, body: 5 }, "missing_field"],
    ["an eventId that is not a string", { ...status, eventId: 5 }, "missing_field"],
  ])("rejects %s (%s)", (_what, input, why) => {
    expect(reason(() => normalizeEvent(input))).toBe(why);
  });

  it("relays an SMS body as sent: newlines, tabs, right-to-left text, emoji", () => {
    const text = "Line 1\nLine 2\r\n\tשלום \u202bمرحبا\u202c 🔥 \u0085";
    expect(normalizeEvent({ ...inbound, body: text })).toMatchObject({ body: text });
    expect(normalizeEvent({ ...inbound, body: "b".repeat(4096) })).toMatchObject({ body: "b".repeat(4096) });
  });

  it("accepts every field at its cap, and such an event packs well under MAX_EVENT_BYTES", () => {
    const cap = EVENT_FIELD_MAX_LENGTH;
    // Three UTF-8 bytes per code unit is the worst case for the free-text fields.
    const wide = (n: number) => "€".repeat(n);
    const biggest = normalizeEvent({
      ...inbound,
      eventId: "e".repeat(cap.eventId),
      messageId: "m".repeat(cap.messageId),
      tenantId: "t".repeat(cap.tenantId),
      appId: "a".repeat(cap.appId),
      from: wide(cap.from),
      to: wide(cap.to),
      body: wide(cap.body),
      rcMessageId: wide(cap.rcMessageId),
      timestamp: "2026-03-01T10:00:01.000000000+00:00",
    });
    const status2 = normalizeEvent({ ...status, status: wide(cap.status), error: wide(cap.error), rcMessageId: wide(cap.rcMessageId) });
    const packr = new Packr({ useRecords: false });
    expect(packr.pack(biggest).length).toBeLessThan(MAX_EVENT_BYTES / 3);
    expect(packr.pack(status2).length).toBeLessThan(MAX_EVENT_BYTES / 3);
  });

  it("leaves normal events exactly as they were", () => {
    const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const e = normalizeEvent({ ...status, eventId: uuid, messageId: "msg_a1b2c3d4e5f6", rcMessageId: "123456789", error: "Carrier: number unreachable (code 30003)" });
    expect(JSON.stringify(e)).toBe(
      `{"type":"sms_status","eventId":"${uuid}","messageId":"msg_a1b2c3d4e5f6","appId":"a","tenantId":"t","status":"sent","rcMessageId":"123456789","error":"Carrier: number unreachable (code 30003)","timestamp":"2026-03-01T10:00:01.000Z"}`,
    );
    expect(normalizeEvent({ ...inbound, from: "ACME-BANK", rcMessageId: "SM1234567890abcdef" })).toMatchObject({ from: "ACME-BANK", rcMessageId: "SM1234567890abcdef" });
  });

  it("gives the publisher the same answers, so producers learn before the nodes drop anything", () => {
    for (const input of [{ ...status, eventId: "e".repeat(5000) }, { ...status, messageId: "m\u0000" }, { ...status, messageId: `m${RLO}` }]) {
      expect(reason(() => prepareEvent(input))).toBe(reason(() => normalizeEvent(input)));
    }
    expect(reason(() => prepareEvent({ type: "sms_status", messageId: "m\u202e", tenantId: "t", appId: "a", status: "sent" }))).toBe("bad_id");
  });

  it("lists every reason label for the metric", () => {
    expect(REJECT_REASONS).toEqual(
      expect.arrayContaining(["decode", "bad_subject", "missing_field", "type_mismatch", "tenant_mismatch", "app_mismatch", "bad_id", "too_large", "bad_value"]),
    );
    expect(new Set(REJECT_REASONS).size).toBe(REJECT_REASONS.length);
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
    ["sms.t.a.status", pack({ ...status, eventId: "e".repeat(5000) }), "too_large"],
    ["sms.t.a.status", pack({ ...status, messageId: "m\u0000" }), "bad_id"],
    ["sms.t.a.status", pack({ ...status, messageId: "m\u202e" }), "bad_id"],
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

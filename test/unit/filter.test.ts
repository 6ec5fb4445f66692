import { describe, expect, it } from "vitest";
import { ClientProtocolError } from "../../src/errors.js";
import type { SmsEvent } from "../../src/events/event.js";
import { filterAllows, intersectFilters, isNarrowing, NO_FILTER, parseFilter } from "../../src/scope/filter.js";

const status = (messageId: string, s: string): SmsEvent => ({ type: "sms_status", eventId: "e", messageId, appId: "a", tenantId: "t", status: s, timestamp: "x" });
const inbound = (messageId: string): SmsEvent => ({ type: "sms_inbound", eventId: "e", messageId, from: "+1", to: "+2", body: "b", tenantId: "t", timestamp: "x" });

describe("filters", () => {
  it("absent fields do not narrow; each present field does", () => {
    expect(isNarrowing(parseFilter(undefined))).toBe(false);
    expect(filterAllows(NO_FILTER, status("m", "sent"))).toBe(true);
    const f = parseFilter({ types: ["sms_status"], statuses: ["failed", "undelivered"] });
    expect(filterAllows(f, status("m", "failed"))).toBe(true);
    expect(filterAllows(f, status("m", "sent"))).toBe(false);
    expect(filterAllows(f, inbound("m"))).toBe(false);
    // statuses do not touch inbound events
    expect(filterAllows(parseFilter({ statuses: ["failed"] }), inbound("m"))).toBe(true);
    const watch = parseFilter({ messageIds: [] });
    expect(filterAllows(watch, status("m1", "sent"))).toBe(false);
    expect(filterAllows(parseFilter({ messageIds: ["m1"] }), inbound("m1"))).toBe(true);
  });

  it("refuses malformed and unsupported filters with 4400 and a reason", () => {
    for (const [value, reason] of [
      ["x", /must be an object/],
      [{ type: ["sms_status"] }, /unknown field "type"/],
      [{ types: ["sms_mms"] }, /unknown type "sms_mms"/],
      [{ types: [] }, /must not be empty/],
      [{ statuses: "failed" }, /array/],
      [{ statuses: Array.from({ length: 33 }, (_, i) => `s${i}`) }, /at most 32/],
      [{ messageIds: ["bad id!"] }, /not a message id/],
      [{ messageIds: [""] }, /strings of 1 to/],
    ] as const) {
      expect(() => parseFilter(value), JSON.stringify(value)).toThrow(ClientProtocolError);
      expect(() => parseFilter(value)).toThrow(reason);
    }
  });

  it("intersects a request with a token's ceiling, never widening it", () => {
    const ceiling = parseFilter({ types: ["sms_status"], messageIds: ["m1", "m2"] });
    const f = intersectFilters(parseFilter({ types: ["sms_status", "sms_inbound"], messageIds: ["m2", "m3"] }), ceiling);
    expect([...(f.types ?? [])]).toEqual(["sms_status"]);
    expect([...(f.messageIds ?? [])]).toEqual(["m2"]);
    expect(intersectFilters(NO_FILTER, ceiling)).toEqual(ceiling);
    expect(filterAllows(intersectFilters(NO_FILTER, ceiling), inbound("m1"))).toBe(false);
  });
});

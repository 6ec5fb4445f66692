/**
 * The package's public surface, imported by its published names (package self-reference, so
 * this runs against the built dist/ the way another service would use it), with type checks
 * (`npm run typecheck` verifies the expectTypeOf lines).
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as client from "sms-ws-gateway/client";
import * as publisher from "sms-ws-gateway/publisher";

describe("sms-ws-gateway/publisher", () => {
  it("exports the typed producer functions", () => {
    expect(typeof publisher.publishSmsStatus).toBe("function");
    expect(typeof publisher.publishSmsInbound).toBe("function");
    expect(typeof publisher.publishEvent).toBe("function");
    expectTypeOf(publisher.publishSmsStatus).parameter(1).toMatchTypeOf<{ messageId: string; tenantId: string; appId: string; status: string }>();
    expectTypeOf(publisher.publishSmsInbound).parameter(1).toMatchTypeOf<{ messageId: string; from: string; to: string; body: string; tenantId: string }>();
    expectTypeOf<publisher.Published["seq"]>().toEqualTypeOf<number | undefined>();
  });

  it("validates and completes events", () => {
    const e = publisher.prepareEvent({ type: "sms_status", messageId: "m", tenantId: "t", appId: "a", status: "sent" });
    expect(e.eventId).toBeTypeOf("string");
    expect(() => publisher.prepareEvent({ type: "sms_status" })).toThrow(publisher.InvalidEventError);
  });
});

describe("sms-ws-gateway/client", () => {
  it("exports the SDK", () => {
    expect(typeof client.createClient).toBe("function");
    expect(typeof client.SmsWsClient).toBe("function");
    expectTypeOf(client.createClient).returns.toEqualTypeOf<client.SmsWsClient>();
    expectTypeOf<client.SmsEvent["type"]>().toEqualTypeOf<"sms_status" | "sms_inbound">();
  });
});

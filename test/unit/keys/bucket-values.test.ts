/**
 * Every bucket's record parser against the values nats-server can be made to write into a bucket
 * (a JetStream API response, a publish ack: docs/security.md, "Bucket values"), and against empty
 * and binary values: none is a record, so none replaces or revokes anything.
 */
import { describe, expect, it } from "vitest";
import { parseTenantRecord } from "../../../src/fleet/tenant-quotas.js";
import { parseKeyRecord } from "../../../src/keys/key-record.js";
import { parseRevocationRecord, revocationValue } from "../../../src/tokens/revocation-record.js";
import { parseSignerRecord } from "../../../src/tokens/signer-record.js";

const JUNK: [string, unknown][] = [
  ["a JetStream API response", { type: "io.nats.jetstream.api.v1.stream_info_response", total: 0, offset: 0, limit: 0, config: { name: "SMS_EVENTS" } }],
  ["a JetStream API error", { type: "io.nats.jetstream.api.v1.consumer_create_response", error: { code: 400, err_code: 10025, description: "bad request" } }],
  ["a publish ack", { stream: "SMS_EVENTS", seq: 5 }],
  ["a duplicate publish ack", { stream: "SMS_EVENTS", seq: 5, duplicate: true }],
  ["empty (no JSON value)", undefined],
  ["an empty string", ""],
  ["null", null],
  ["an empty array", []],
  ["a number", 42],
  ["binary bytes", new Uint8Array([0x00, 0xff, 0x7b, 0x7d])],
  ["a string", "revoked"],
];

const PARSERS: [string, (v: unknown) => unknown][] = [
  ["parseKeyRecord", parseKeyRecord],
  ["parseSignerRecord", parseSignerRecord],
  ["parseRevocationRecord", parseRevocationRecord],
  ["parseTenantRecord", parseTenantRecord],
];

describe.each(PARSERS)("%s", (_name, parse) => {
  it.each(JUNK)("is null for %s", (_what, value) => {
    expect(parse(value)).toBeNull();
  });
});

describe("valid records", () => {
  it("api keys: what keys create writes", () => {
    expect(parseKeyRecord({ role: "app", tenantId: "t1", appId: "a1", label: "l", createdAt: "2026-01-01T00:00:00.000Z" })).toEqual({
      role: "app", tenantId: "t1", appId: "a1", label: "l", createdAt: "2026-01-01T00:00:00.000Z",
    });
  });

  it("signers: what signers create writes", () => {
    const publicKey = Buffer.alloc(32, 7).toString("base64url");
    expect(parseSignerRecord({ tenantId: "t1", publicKey, createdAt: "x" })).toEqual({ tenantId: "t1", publicKey, createdAt: "x" });
  });

  it("tenant quotas: a quota, or {} for none; any other field is not a quota record", () => {
    expect(parseTenantRecord({ maxConnections: 500 })).toEqual({ maxConnections: 500 });
    expect(parseTenantRecord({})).toEqual({});
    expect(parseTenantRecord({ maxConnections: 500, type: "io.nats.jetstream.api.v1.x" })).toBeNull();
    expect(parseTenantRecord({ maxConnections: -1 })).toBeNull();
    expect(parseTenantRecord({ maxConnections: 1.5 })).toBeNull();
  });
});

describe("revocation records: writer and reader agree", () => {
  const at = new Date("2026-12-04T22:00:00.123Z");

  it("accepts what every writer so far has written: {revokedAt: toISOString()}", () => {
    expect(parseRevocationRecord(JSON.parse(JSON.stringify({ revokedAt: at.toISOString() })))).toEqual({ revokedAt: "2026-12-04T22:00:00.123Z" });
  });

  it("reads back what revocationValue writes, with and without a reason", () => {
    expect(parseRevocationRecord(JSON.parse(revocationValue(at)))).toEqual({ revokedAt: at.toISOString() });
    expect(parseRevocationRecord(JSON.parse(revocationValue(at, "leaked in a log")))).toEqual({ revokedAt: at.toISOString(), reason: "leaked in a log" });
    expect(() => revocationValue(at, "x".repeat(201))).toThrow(/at most 200/);
  });

  it.each([
    ["no revokedAt", { reason: "x" }],
    ["revokedAt not a date", { revokedAt: "yesterday" }],
    ["revokedAt a number", { revokedAt: 1_700_000_000_000 }],
    ["an impossible date", { revokedAt: "2026-13-45T99:00:00Z" }],
    ["a date without time", { revokedAt: "2026-12-04" }],
    ["a reason that is not a string", { revokedAt: "2026-12-04T22:00:00Z", reason: 5 }],
    ["a reason too long", { revokedAt: "2026-12-04T22:00:00Z", reason: "x".repeat(201) }],
    ["an unknown field", { revokedAt: "2026-12-04T22:00:00Z", stream: "SMS_EVENTS" }],
  ])("is null for %s", (_what, value) => {
    expect(parseRevocationRecord(value)).toBeNull();
  });

  it("accepts an offset date-time written by hand", () => {
    expect(parseRevocationRecord({ revokedAt: "2026-12-04T23:00:00+01:00" })).toEqual({ revokedAt: "2026-12-04T23:00:00+01:00" });
  });
});

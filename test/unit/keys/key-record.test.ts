import { describe, expect, it } from "vitest";
import { parseKeyRecord, sameGrant, scopeOfRecord, type KeyRecord } from "../../../src/keys/key-record.js";

describe("parseKeyRecord", () => {
  it("reads admin and app records as a discriminated union", () => {
    const admin = parseKeyRecord({ role: "admin", label: "ops", createdAt: "x" });
    expect(admin).toEqual({ role: "admin", label: "ops", createdAt: "x" });
    const app = parseKeyRecord({ role: "app", tenantId: "t1", appId: "a1", createdAt: "x" });
    expect(app).toEqual({ role: "app", tenantId: "t1", appId: "a1", createdAt: "x" });
    if (app?.role === "app") expect(scopeOfRecord(app)).toEqual({ role: "app", tenantId: "t1", appId: "a1" });
    if (admin !== null) expect(scopeOfRecord(admin)).toEqual({ role: "admin" });
  });

  it.each([
    ["an admin record naming a tenant", { role: "admin", tenantId: "t1" }],
    ["an admin record naming an app", { role: "admin", appId: "a1" }],
    ["an admin record with a null tenant", { role: "admin", tenantId: null }],
  ])("is null (unusable, never a global admin) for %s", (_name, value) => {
    expect(parseKeyRecord(value)).toBeNull();
  });
});

describe("sameGrant", () => {
  const admin: KeyRecord = { role: "admin", createdAt: "x" };
  const app: KeyRecord = { role: "app", tenantId: "t1", appId: "a1", createdAt: "x" };

  it("ignores labels and dates, not roles, tenants or apps", () => {
    expect(sameGrant(admin, { role: "admin", label: "new", createdAt: "y" })).toBe(true);
    expect(sameGrant(app, { ...app, label: "new" })).toBe(true);
    expect(sameGrant(app, admin)).toBe(false);
    expect(sameGrant(admin, app)).toBe(false);
    expect(sameGrant(app, { ...app, appId: "a2" })).toBe(false);
    expect(sameGrant(app, { ...app, tenantId: "t2" })).toBe(false);
  });
});

/** Pools (ALLOWED_ROLES) and the tenant hint, as the node decides them. */
import { describe, expect, it } from "vitest";
import { CloseCode } from "../../src/client/close-codes.js";
import { loadConfig } from "../../src/config/config.js";
import { hintOutcome, parseTenantHint, poolRefusal } from "../../src/protocol/routing.js";

const app = { role: "app", tenantId: "acme", appId: "web" } as const;
const admin = { role: "admin" } as const;

describe("poolRefusal", () => {
  it("any serves both; app refuses admin credentials and admin refuses app credentials, with 4403", () => {
    expect(poolRefusal("any", "app")).toBeUndefined();
    expect(poolRefusal("any", "admin")).toBeUndefined();
    expect(poolRefusal("app", "app")).toBeUndefined();
    expect(poolRefusal("admin", "admin")).toBeUndefined();
    expect(poolRefusal("app", "admin")).toMatchObject({ code: CloseCode.Forbidden, reason: expect.stringMatching(/admin endpoint/) });
    expect(poolRefusal("admin", "app")).toMatchObject({ code: CloseCode.Forbidden, reason: expect.stringMatching(/app endpoint/) });
  });

  it("ALLOWED_ROLES defaults to any and names itself when wrong", () => {
    expect(loadConfig({}).allowedRoles).toBe("any");
    expect(loadConfig({ ALLOWED_ROLES: "app" }).allowedRoles).toBe("app");
    expect(() => loadConfig({ ALLOWED_ROLES: "apps" })).toThrow(/ALLOWED_ROLES/);
  });
});

describe("tenant hint", () => {
  it("parses <id> and <id>:<slot>; anything else is invalid, never a tenant", () => {
    expect(parseTenantHint(undefined)).toBeUndefined();
    expect(parseTenantHint("")).toBeUndefined();
    expect(parseTenantHint("acme")).toEqual({ tenantId: "acme" });
    expect(parseTenantHint("acme:3")).toEqual({ tenantId: "acme" });
    expect(parseTenantHint("invalid")).toEqual({ tenantId: "invalid" });
    for (const bad of ["a b", "acme:", "acme:x", ":1", "x".repeat(65), "acme:1:2"]) expect(parseTenantHint(bad)).toBe("invalid");
  });

  it("compares with the credential's tenant only for the log", () => {
    expect(hintOutcome(undefined, app)).toBe("none");
    expect(hintOutcome("invalid", app)).toBe("invalid");
    expect(hintOutcome({ tenantId: "acme" }, app)).toBe("match");
    expect(hintOutcome({ tenantId: "globex" }, app)).toBe("mismatch");
    expect(hintOutcome({ tenantId: "acme" }, admin)).toBe("mismatch");
  });
});

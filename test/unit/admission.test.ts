import { describe, expect, it } from "vitest";
import { Admission, clientAddress } from "../../src/server/admission.js";

const limits = { maxUnauthenticated: 3, maxUnauthenticatedPerIp: 2, authFailuresPerIpPerMin: 2, maxConnectionsPerTenant: 2 };

describe("Admission", () => {
  it("caps unauthenticated sockets per address and in total", () => {
    const a = new Admission(limits);
    a.opened("1.1.1.1");
    a.opened("1.1.1.1");
    expect(a.refuseUpgrade("1.1.1.1")).toEqual({ status: "429 Too Many Requests", reason: "unauthenticated_per_ip" });
    expect(a.refuseUpgrade("2.2.2.2")).toBeUndefined();
    a.opened("2.2.2.2");
    expect(a.refuseUpgrade("3.3.3.3")).toEqual({ status: "503 Service Unavailable", reason: "unauthenticated_total" });
    a.settled("1.1.1.1");
    expect(a.refuseUpgrade("1.1.1.1")).toBeUndefined();
    expect(a.unauthenticated).toBe(2);
  });

  it("blocks an address for the rest of the minute after too many auth failures", () => {
    let now = 0;
    const a = new Admission(limits, () => now);
    a.authFailed("9.9.9.9");
    expect(a.refuseUpgrade("9.9.9.9")).toBeUndefined();
    a.authFailed("9.9.9.9");
    expect(a.refuseUpgrade("9.9.9.9")).toEqual({ status: "429 Too Many Requests", reason: "auth_failures" });
    expect(a.refuseUpgrade("8.8.8.8")).toBeUndefined();
    now = 59_999;
    expect(a.refuseUpgrade("9.9.9.9")).toBeDefined();
    now = 60_000;
    expect(a.refuseUpgrade("9.9.9.9")).toBeUndefined();
    a.sweep();
    a.authFailed("9.9.9.9");
    expect(a.refuseUpgrade("9.9.9.9")).toBeUndefined();
  });

  it("caps authenticated sockets per tenant; 0 disables limits", () => {
    const a = new Admission(limits);
    expect(a.joinTenant("t")).toBe(true);
    expect(a.joinTenant("t")).toBe(true);
    expect(a.joinTenant("t")).toBe(false);
    expect(a.joinTenant("u")).toBe(true);
    a.leaveTenant("t");
    expect(a.joinTenant("t")).toBe(true);
    const open = new Admission({ ...limits, authFailuresPerIpPerMin: 0, maxConnectionsPerTenant: 0 });
    for (let i = 0; i < 100; i++) {
      open.authFailed("x");
      expect(open.joinTenant("t")).toBe(true);
    }
    expect(open.refuseUpgrade("x")).toBeUndefined();
  });

  it("takes the client address from the last entry of a trusted header", () => {
    expect(clientAddress("10.0.0.1", "")).toBe("10.0.0.1");
    expect(clientAddress("10.0.0.1", "203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", "1.2.3.4, 203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", " , ")).toBe("10.0.0.1");
  });
});

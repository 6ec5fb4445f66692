import { describe, expect, it } from "vitest";
import { addressKey, parseCidr } from "../../src/net/ip.js";
import { Admission, AUTH_FAILURE_WINDOW_MS, UPGRADE_REFUSAL_REASONS } from "../../src/server/admission.js";
import { clientAddress } from "../../src/server/client-address.js";

const limits = {
  maxUnauthenticated: 3,
  maxUnauthenticatedPerIp: 2,
  authFailuresPerIpPerMin: 3,
  authFailureMaxDelayMs: 5000,
  maxConnectionsPerTenant: 2,
};

/** What the gateway does with one socket: upgrade, authenticate, settle. */
function attempt(a: Admission, key: string, valid: boolean): { refused: string | undefined; delayMs: number } {
  const refusal = a.refuseUpgrade(key);
  if (refusal !== undefined) return { refused: refusal.reason, delayMs: 0 };
  a.opened(key);
  const delayMs = valid ? 0 : a.authFailed(key);
  a.settled(key);
  return { refused: undefined, delayMs };
}

describe("Admission: unauthenticated sockets", () => {
  it("counts a held failing HTTP request against the same allowance as a waiting socket", () => {
    const a = new Admission(limits);
    a.opened("1.1.1.1");
    expect(a.holdFailure("1.1.1.1")).toBeUndefined();
    expect(a.holdFailure("1.1.1.1")).toEqual({ status: "429 Too Many Requests", reason: "unauthenticated_per_ip" });
    expect(a.refuseUpgrade("1.1.1.1")?.reason).toBe("unauthenticated_per_ip");
    expect(a.holdFailure("2.2.2.2")).toBeUndefined();
    expect(a.holdFailure("3.3.3.3")).toEqual({ status: "503 Service Unavailable", reason: "unauthenticated_total" });
    expect(a.unauthenticated).toBe(3);
    a.settled("1.1.1.1");
    expect(a.holdFailure("1.1.1.1")).toBeUndefined();
  });

  it("caps unauthenticated sockets per address key and in total", () => {
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
    a.settled("1.1.1.1");
    a.settled("2.2.2.2");
    expect(a.unauthenticated).toBe(0);
  });

  it("lists its refusal reasons for the metric", () => {
    expect(UPGRADE_REFUSAL_REASONS).toEqual(["unauthenticated_per_ip", "unauthenticated_total"]);
  });

  it("counts IPv6 clients of one /64 together", () => {
    const a = new Admission(limits);
    a.opened(addressKey("2001:db8:1:2::1"));
    a.opened(addressKey("2001:db8:1:2:ffff::9"));
    expect(a.refuseUpgrade(addressKey("2001:db8:1:2:dead:beef:0:1"))?.reason).toBe("unauthenticated_per_ip");
    expect(a.refuseUpgrade(addressKey("2001:db8:1:3::1"))).toBeUndefined();
  });
});

describe("Admission: failed authentications", () => {
  it("never refuses an upgrade for failures: a valid key behind a shared NAT address is answered at once", () => {
    let now = 0;
    const a = new Admission(limits, () => now);
    const nat = "198.51.100.1";
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) {
      now += 10;
      const r = attempt(a, nat, false);
      expect(r.refused).toBeUndefined();
      delays.push(r.delayMs);
    }
    // Another customer behind the same address, with a valid key: upgraded, answered at once.
    const valid = attempt(a, nat, true);
    expect(valid).toEqual({ refused: undefined, delayMs: 0 });
    expect(a.refuseUpgrade(nat)).toBeUndefined();
    // The brute force itself was slowed down: 0 below the limit, then growing, capped.
    expect(delays.slice(0, 2)).toEqual([0, 0]);
    expect(delays.slice(2, 8)).toEqual([250, 500, 1000, 2000, 4000, 5000]);
    expect(Math.max(...delays)).toBe(5000);
    expect(a.failureDelayMs(nat)).toBe(5000);
    expect(a.failureDelayMs("192.0.2.99")).toBe(0);
  });

  it("bounds a brute-forcer to MAX_UNAUTHENTICATED_PER_IP sockets each held for the delay", () => {
    let now = 0;
    const a = new Admission({ ...limits, maxUnauthenticated: 1000, maxUnauthenticatedPerIp: 10 }, () => now);
    // Failing sockets stay unauthenticated (and counted) while their answer is delayed.
    const waiting: number[] = [];
    let tried = 0;
    for (now = 0; now < 10_000; now += 50) {
      for (let i = waiting.length - 1; i >= 0; i--) {
        if ((waiting[i] as number) <= now) {
          waiting.splice(i, 1);
          a.settled("203.0.113.5");
        }
      }
      while (a.refuseUpgrade("203.0.113.5") === undefined) {
        a.opened("203.0.113.5");
        tried++;
        waiting.push(now + a.authFailed("203.0.113.5"));
        if (waiting.at(-1) === now) {
          waiting.pop();
          a.settled("203.0.113.5");
        }
      }
    }
    // 10 sockets, each answered after 5 s once past the limit: about 10 tries per 5 s.
    expect(tried).toBeLessThan(40);
  });

  it("keys failures per address: other addresses are not slowed down", () => {
    const a = new Admission(limits);
    for (let i = 0; i < 10; i++) a.authFailed("9.9.9.9");
    expect(a.failureDelayMs("9.9.9.9")).toBe(5000);
    expect(a.authFailed("8.8.8.8")).toBe(0);
    // One IPv6 host walking through its /64 is one key.
    for (let i = 0; i < 10; i++) a.authFailed(addressKey(`2001:db8:1:2::${i.toString(16)}`));
    expect(a.failureDelayMs(addressKey("2001:db8:1:2::ffff"))).toBe(5000);
    expect(a.failureDelayMs(addressKey("2001:db8:1:3::1"))).toBe(0);
  });

  it("forgets failures as the sliding minute moves on", () => {
    let now = 0;
    const a = new Admission(limits, () => now);
    for (let i = 0; i < 4; i++) a.authFailed("9.9.9.9");
    expect(a.recentFailures("9.9.9.9")).toBe(4);
    expect(a.failureDelayMs("9.9.9.9")).toBe(500);
    // Half a window later the four failures still all count.
    now = AUTH_FAILURE_WINDOW_MS / 2;
    expect(a.failureDelayMs("9.9.9.9")).toBe(500);
    // In the next window, the previous one weighs by how much of it is still inside the minute.
    now = AUTH_FAILURE_WINDOW_MS * 1.5;
    expect(a.recentFailures("9.9.9.9")).toBe(2);
    expect(a.failureDelayMs("9.9.9.9")).toBe(0);
    // No fixed-window reset: failing again at once is still slowed down.
    expect(a.authFailed("9.9.9.9")).toBe(250);
    now = AUTH_FAILURE_WINDOW_MS * 3.5;
    expect(a.recentFailures("9.9.9.9")).toBe(0);
    expect(a.failureDelayMs("9.9.9.9")).toBe(0);
    expect(a.authFailed("9.9.9.9")).toBe(0);
  });

  it("sweeps quiet addresses and stays bounded under address churn", () => {
    let now = 0;
    const a = new Admission(limits, () => now, { maxTrackedAddresses: 1000 });
    for (let i = 0; i < 50_000; i++) a.authFailed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(a.trackedAddresses).toBe(1000);
    // The most recent addresses are the ones kept.
    expect(a.recentFailures("10.0.195.79")).toBe(1);
    expect(a.recentFailures("10.0.0.1")).toBe(0);
    now = AUTH_FAILURE_WINDOW_MS;
    a.authFailed("192.0.2.1");
    a.sweep();
    // Failed within the last two windows: kept.
    expect(a.trackedAddresses).toBe(1000);
    now = 2 * AUTH_FAILURE_WINDOW_MS;
    a.sweep();
    expect(a.trackedAddresses).toBe(1);
    now = 3 * AUTH_FAILURE_WINDOW_MS;
    a.sweep();
    expect(a.trackedAddresses).toBe(0);
  });

  it("does nothing when the limit or the delay is 0", () => {
    for (const off of [{ authFailuresPerIpPerMin: 0 }, { authFailureMaxDelayMs: 0 }]) {
      const a = new Admission({ ...limits, ...off });
      for (let i = 0; i < 100; i++) expect(a.authFailed("x")).toBe(0);
      expect(a.failureDelayMs("x")).toBe(0);
      expect(a.trackedAddresses).toBe(0);
    }
  });
});

describe("Admission: tenants", () => {
  it("caps authenticated sockets per tenant; 0 disables the cap", () => {
    const a = new Admission(limits);
    expect(a.joinTenant("t")).toBe(true);
    expect(a.joinTenant("t")).toBe(true);
    expect(a.joinTenant("t")).toBe(false);
    expect(a.joinTenant("u")).toBe(true);
    a.leaveTenant("t");
    expect(a.joinTenant("t")).toBe(true);
    a.leaveTenant("u");
    a.leaveTenant("never-joined");
    const open = new Admission({ ...limits, maxConnectionsPerTenant: 0 });
    for (let i = 0; i < 100; i++) expect(open.joinTenant("t")).toBe(true);
  });
});

describe("client address from forged headers, end to end with admission", () => {
  const proxies = [parseCidr("10.0.0.0/8")].filter((c) => c !== undefined);

  it("a client cannot move itself to another address key by forging the header", () => {
    const a = new Admission({ ...limits, maxUnauthenticatedPerIp: 1 });
    const real = addressKey(clientAddress("10.0.0.2", ["198.51.100.1"], proxies));
    a.opened(real);
    // Forged line first, proxy's line second: still the real address, still at its cap.
    const forged = addressKey(clientAddress("10.0.0.2", ["203.0.113.1", "198.51.100.1"], proxies));
    expect(forged).toBe(real);
    expect(a.refuseUpgrade(forged)?.reason).toBe("unauthenticated_per_ip");
    // Talking to the node directly with a header: the header is not read.
    expect(clientAddress("198.51.100.1", ["203.0.113.1"], proxies)).toBe("198.51.100.1");
  });
});

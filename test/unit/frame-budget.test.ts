/** Per-socket frame budgets (src/server/frame-budget.ts): the buckets and what a frame costs. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { FrameBudget, TokenBucket, frameCost } from "../../src/server/frame-budget.js";

const limits = { ratePerS: 100, burst: 200, refreshPerMin: 60, refreshBurst: 3 };

describe("TokenBucket", () => {
  it("starts full, refuses past its burst without taking anything, refills with time up to the burst", () => {
    const b = new TokenBucket(0.1, 10, 0);
    expect(b.take(10, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.tokens).toBe(0);
    expect(b.take(1, 9)).toBe(false);
    expect(b.take(1, 10)).toBe(true);
    expect(b.take(5, 1_000_000)).toBe(true);
    expect(b.tokens).toBe(5);
    // A clock going backwards refills nothing.
    expect(b.take(6, 0)).toBe(false);
  });
});

describe("FrameBudget", () => {
  it("charges 1 a frame plus 1 a topic touched, so one watch of 100 ids costs more than one of 1", () => {
    expect(frameCost(0)).toBe(1);
    expect(frameCost(800)).toBe(801);
    const small = new FrameBudget(limits, 0);
    for (let i = 0; i < 100; i++) expect(small.frame(1, 0)).toBe(true);
    expect(small.frame(1, 0)).toBe(false);
    const big = new FrameBudget(limits, 0);
    expect(big.frame(100, 0)).toBe(true);
    expect(big.frame(98, 0)).toBe(true);
    expect(big.frame(0, 0)).toBe(false);
  });

  it("refills at the rate: a steady client under it is never refused", () => {
    const b = new FrameBudget(limits, 0);
    // 90 units a second (under 100/s), for a minute, every 100 ms.
    for (let t = 0; t < 60_000; t += 100) expect(b.frame(8, t)).toBe(true);
  });

  it("lets a frame costing more than the burst through once the bucket is full, and then nothing at once", () => {
    const b = new FrameBudget(limits, 0);
    expect(b.frame(5000, 0)).toBe(true);
    expect(b.frame(0, 0)).toBe(false);
    expect(b.frame(5000, 1000)).toBe(false);
    expect(b.frame(5000, 2000)).toBe(true);
  });

  it("limits refreshes on their own bucket: the burst, then one a second", () => {
    const b = new FrameBudget(limits, 0);
    expect([b.refresh(0), b.refresh(0), b.refresh(0), b.refresh(0)]).toEqual([true, true, true, false]);
    expect(b.refresh(500)).toBe(false);
    expect(b.refresh(1000)).toBe(true);
  });
});

describe("frame budget settings", () => {
  it("have defaults and refuse nonsense naming the variable", () => {
    const c = loadConfig({});
    expect([c.frameRatePerS, c.frameBurst, c.refreshRatePerMin, c.refreshBurst, c.maxSseStreamsPerTenant]).toEqual([1000, 1000, 60, 5, 25]);
    expect(() => loadConfig({ FRAME_RATE_PER_S: "0" })).toThrow(/FRAME_RATE_PER_S/);
    expect(() => loadConfig({ REFRESH_BURST: "lots" })).toThrow(/REFRESH_BURST/);
    expect(loadConfig({ MAX_SSE_STREAMS_PER_TENANT: "0" }).maxSseStreamsPerTenant).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../../src/client/index.js";

const policy = { initialDelayMs: 1000, maxDelayMs: 30_000 };

describe("backoffDelay (full jitter)", () => {
  it("is random(0, min(cap, base * 2^attempt))", () => {
    expect(backoffDelay(0, policy, () => 0.5)).toBe(500);
    expect(backoffDelay(1, policy, () => 0.5)).toBe(1000);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(2000);
    expect(backoffDelay(4, policy, () => 0.25)).toBe(4000);
  });

  it("spans the whole range from 0 to just under the ceiling", () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
      expect(backoffDelay(attempt, policy, () => 0)).toBe(0);
      const top = backoffDelay(attempt, policy, () => 0.999_999);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it("caps at maxDelayMs however many attempts failed", () => {
    expect(backoffDelay(5, policy, () => 0.999_999)).toBe(29_999);
    expect(backoffDelay(60, policy, () => 0.5)).toBe(15_000);
    expect(backoffDelay(5000, policy, () => 0.5)).toBe(15_000); // 2^5000 is Infinity: still capped
  });

  it("stays within bounds for every random draw", () => {
    let seed = 42;
    const lcg = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const attempt = i % 12;
      const delay = backoffDelay(attempt, policy, lcg);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(30_000, 1000 * 2 ** attempt));
    }
  });

  it("clamps a misbehaving random source into [0, 1]", () => {
    expect(backoffDelay(0, policy, () => -3)).toBe(0);
    expect(backoffDelay(0, policy, () => 7)).toBe(1000);
  });
});

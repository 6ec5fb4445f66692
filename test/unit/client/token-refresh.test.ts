import { describe, expect, it } from "vitest";
import { MAX_REFRESH_FLOOR_MS, MIN_REFRESH_DELAY_MS, planRefresh } from "../../../src/client/token-refresh.js";

const NOW = 1_800_000_000_000;

describe("planRefresh", () => {
  it("refreshes 60 s before a long token expires, plus up to 60 s of jitter", () => {
    const exp = NOW + 15 * 60_000;
    expect(planRefresh(exp, NOW, MIN_REFRESH_DELAY_MS, () => 0).delayMs).toBe(14 * 60_000);
    expect(planRefresh(exp, NOW, MIN_REFRESH_DELAY_MS, () => 0.5).delayMs).toBe(14 * 60_000 - 30_000);
    expect(planRefresh(exp, NOW, MIN_REFRESH_DELAY_MS, () => 0.999999).delayMs).toBeGreaterThanOrEqual(13 * 60_000);
  });

  it("uses 10 % of the time left as the margin for short tokens", () => {
    // 5 minutes left: margin 30 s (less than 60 s).
    expect(planRefresh(NOW + 300_000, NOW, MIN_REFRESH_DELAY_MS, () => 0)).toEqual({ delayMs: 270_000, nextFloorMs: MIN_REFRESH_DELAY_MS });
    expect(planRefresh(NOW + 300_000, NOW, MIN_REFRESH_DELAY_MS, () => 1).delayMs).toBe(240_000);
  });

  it("never refreshes sooner than the floor, and doubles the floor while the clock says 'expired'", () => {
    let floor = MIN_REFRESH_DELAY_MS;
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      // A local clock 20 minutes ahead of the server: every token looks expired.
      const plan = planRefresh(NOW - 20 * 60_000 + 15 * 60_000, NOW, floor, () => 0.5);
      delays.push(plan.delayMs);
      floor = plan.nextFloorMs;
    }
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    expect(floor).toBe(MAX_REFRESH_FLOOR_MS);
    // A sane token again resets the floor.
    expect(planRefresh(NOW + 15 * 60_000, NOW, floor, () => 0).nextFloorMs).toBe(MIN_REFRESH_DELAY_MS);
  });
});

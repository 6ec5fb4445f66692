import { describe, expect, it } from "vitest";
import { ACCEPT_BACKOFF_MIN_MS, AcceptGuard, processDescriptors } from "../../src/server/accept-guard.js";

function rig(limit = 1000) {
  const state = { open: 0, now: 0, listening: true, bindOk: true, log: [] as string[] };
  const guard = new AcceptGuard(
    { limit, intervalMs: 100, open: () => state.open },
    {
      pause: () => void (state.listening = false),
      resume: async () => (state.listening = state.bindOk),
    },
    {
      sampled: () => {},
      paused: (open) => state.log.push(`paused ${open}`),
      resumed: (open, ms) => state.log.push(`resumed ${open} after ${ms}`),
      resumeFailed: (open) => state.log.push(`failed ${open}`),
    },
    () => state.now,
  );
  return { state, guard };
}

describe("accept guard", () => {
  it("pauses at 90 % of the limit and resumes at 70 % once the backoff has passed", async () => {
    const { state, guard } = rig();
    state.open = 899;
    await guard.check();
    expect(state.listening).toBe(true);
    state.open = 900;
    await guard.check();
    expect(guard.paused).toBe(true);
    expect(state.listening).toBe(false);
    state.open = 701;
    state.now = ACCEPT_BACKOFF_MIN_MS;
    await guard.check();
    expect(guard.paused).toBe(true);
    state.open = 700;
    state.now = 0;
    await guard.check();
    expect(guard.paused).toBe(true);
    state.now = ACCEPT_BACKOFF_MIN_MS;
    await guard.check();
    expect(guard.paused).toBe(false);
    expect(state.log).toEqual(["paused 900", `resumed 700 after ${ACCEPT_BACKOFF_MIN_MS}`]);
  });

  it("doubles the backoff when pauses follow each other, and retries a failed listen", async () => {
    const { state, guard } = rig();
    const cycle = async (waitMs: number): Promise<void> => {
      state.open = 950;
      await guard.check();
      state.open = 10;
      state.now += waitMs - 1;
      await guard.check();
      expect(guard.paused).toBe(true);
      state.now += 1;
      await guard.check();
      expect(guard.paused).toBe(false);
    };
    await cycle(1000);
    await cycle(2000);
    await cycle(4000);
    state.now += 120_000; // quiet for long: back to the minimum
    await cycle(1000);
    state.open = 950;
    await guard.check();
    state.bindOk = false;
    state.open = 10;
    state.now += 2000;
    await guard.check();
    expect(guard.paused).toBe(true);
    expect(state.log.at(-1)).toBe("failed 10");
    state.bindOk = true;
    await guard.check();
    expect(guard.paused).toBe(false);
  });

  it("reads this process's limit and open descriptors on Linux", () => {
    const probe = processDescriptors();
    if (process.platform !== "linux") return expect(probe).toBeUndefined();
    expect(probe!.limit).toBeGreaterThan(0);
    const open = probe!.open();
    expect(open).toBeGreaterThan(2);
    expect(open).toBeLessThan(probe!.limit);
  });
});

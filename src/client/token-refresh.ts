/**
 * When a token socket refreshes its token. The server closes a socket with 4419 at its token's
 * `exp`; the client fetches the next token a margin before that: min(60 s, 10 % of the time
 * left), plus up to one more margin of jitter so that clients given tokens at the same moment
 * do not all call the backend at the same moment.
 *
 * The time left is `exp` (the server's clock) minus the local clock. A client whose clock runs
 * ahead by more than a token's lifetime would compute "already expired" after every refresh;
 * the floor below then doubles on each such refresh (5 s, 10 s, ... 5 min) instead of asking
 * the backend every few seconds. At worst the server closes with 4419 and the client reconnects
 * with a fresh token: nothing is lost.
 */

export const REFRESH_MARGIN_MS = 60_000;
export const REFRESH_MARGIN_RATIO = 0.1;
export const MIN_REFRESH_DELAY_MS = 5_000;
export const MAX_REFRESH_FLOOR_MS = 300_000;

export interface RefreshPlan {
  /** Delay before fetching the next token. */
  delayMs: number;
  /** The floor to use for the next plan. */
  nextFloorMs: number;
}

/**
 * @param expMs   the token's expiry (server's `exp` * 1000)
 * @param floorMs the floor from the previous plan (MIN_REFRESH_DELAY_MS at first)
 * @param random  [0, 1), like Math.random
 */
export function planRefresh(expMs: number, nowMs: number, floorMs: number, random: () => number): RefreshPlan {
  const leftMs = expMs - nowMs;
  const marginMs = Math.min(REFRESH_MARGIN_MS, Math.max(0, leftMs * REFRESH_MARGIN_RATIO));
  const r = Math.min(Math.max(random(), 0), 1);
  const wantedMs = Math.floor(leftMs - marginMs - r * marginMs);
  if (wantedMs > floorMs) return { delayMs: wantedMs, nextFloorMs: MIN_REFRESH_DELAY_MS };
  return { delayMs: floorMs, nextFloorMs: Math.min(floorMs * 2, MAX_REFRESH_FLOOR_MS) };
}

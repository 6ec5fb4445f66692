/**
 * Reconnect delay: exponential backoff with FULL jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): delay = random(0, min(maxDelayMs, initialDelayMs * 2^attempt)).
 * Full jitter matters here: a draining node closes thousands of sockets, and without it they
 * would all land on the remaining nodes in the same instant.
 */

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * @param attempt consecutive failed connections before this one (0 for the first retry)
 * @param random  returns a number in [0, 1), like Math.random
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  // 2^attempt overflows to Infinity for huge attempts; Math.min caps it, so no special case.
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, attempt));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}

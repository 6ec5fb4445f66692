/**
 * A per-credential request budget (history): a token bucket of `perMinute` requests, refilled
 * continuously, bursts up to the same number. Plain bookkeeping with an injectable clock. The
 * buckets a client can grow are bounded: past `maxTracked` credentials the least recently seen
 * is forgotten (it then starts again with a full bucket, which only a credential holder can use).
 */

export const MAX_TRACKED_CREDENTIALS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimit {
  /** In order of last use (re-inserted on each), so the oldest are first to go. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = MAX_TRACKED_CREDENTIALS,
  ) {}

  /** 0 when the request may go ahead (and is counted), else the seconds to wait (Retry-After). */
  take(key: string): number {
    const t = this.now();
    const ratePerMs = this.perMinute / 60_000;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.maxTracked) this.#buckets.delete(this.#buckets.keys().next().value as string);
      b = { tokens: this.perMinute, at: t };
    } else {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.perMinute, b.tokens + (t - b.at) * ratePerMs);
      b.at = t;
    }
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
  }

  get tracked(): number {
    return this.#buckets.size;
  }
}

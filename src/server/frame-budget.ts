/**
 * What one authenticated socket may send, per second (README.md, "Abuse limits"). Every frame after
 * auth is charged to the socket's token bucket before it is acted on: 1 for the frame itself, plus,
 * for watch and unwatch, one per uWS topic the frame touches (ids x topics per id, which counts
 * the statuses and feeds), since that is what the node's event loop pays for. A refresh also takes
 * one token from a second, slow bucket (a refresh with a new token costs an Ed25519 check).
 * Over either budget the socket is refused with 4429 (back off, reconnect, resume).
 *
 * Plain arithmetic with the clock passed in: two numbers per bucket, no timer, no allocation per frame.
 */

export interface FrameBudgetLimits {
  /** Frame units refilled per second (FRAME_RATE_PER_S). */
  readonly ratePerS: number;
  /** Most frame units held at once (FRAME_BURST). */
  readonly burst: number;
  /** Refreshes refilled per minute (REFRESH_RATE_PER_MIN). */
  readonly refreshPerMin: number;
  /** Most refreshes held at once (REFRESH_BURST). */
  readonly refreshBurst: number;
}

/** A token bucket: starts full, refills continuously, never holds more than `burst`. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly perMs: number,
    private readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes `cost` tokens when the bucket holds them; false (and nothing taken) otherwise. */
  take(cost: number, now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.perMs);
      this.#at = now;
    }
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  get tokens(): number {
    return this.#tokens;
  }
}

/** What a frame costs in frame units (see the file comment). */
export function frameCost(topicsTouched: number): number {
  return 1 + Math.max(0, topicsTouched);
}

export class FrameBudget {
  readonly #frames: TokenBucket;
  #refreshes: TokenBucket | undefined;

  constructor(
    private readonly limits: FrameBudgetLimits,
    now: number,
  ) {
    this.#frames = new TokenBucket(limits.ratePerS / 1000, limits.burst, now);
  }

  /**
   * Charge one frame touching `topicsTouched` topics; false: over budget, refuse the socket. A
   * frame costing more than the whole burst takes the whole burst (it can still be sent, once
   * the bucket is full; FILTER_MAX_TOPICS bounds what one frame can do).
   */
  frame(topicsTouched: number, now: number): boolean {
    return this.#frames.take(Math.min(frameCost(topicsTouched), this.limits.burst), now);
  }

  /** Charge one refresh (after its frame was charged); false: over budget. */
  refresh(now: number): boolean {
    this.#refreshes ??= new TokenBucket(this.limits.refreshPerMin / 60_000, this.limits.refreshBurst, now);
    return this.#refreshes.take(1, now);
  }
}

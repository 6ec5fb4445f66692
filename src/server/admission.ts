/**
 * Abuse limits, as plain bookkeeping (no sockets, no timers): who may upgrade, how long a failed
 * authentication waits for its answer, and which tenant may add one more authenticated socket.
 * The gateway asks before it acts and reports what happened.
 *
 * Every per-address limit is keyed by `addressKey(clientAddress)` (net/ip.ts): an IPv4 address,
 * or the /64 of an IPv6 address.
 *
 * - Unauthenticated sockets: a cap in total (503) and per address key (429). These are the only
 *   upgrade refusals.
 * - Failed authentications never refuse anything. Behind a NAT or a load balancer that rewrites
 *   addresses, one address is every customer; refusing the address after N failures would lock
 *   out valid keys. Instead failures are counted per address key over a sliding minute, and past
 *   AUTH_FAILURES_PER_IP_PER_MIN each further FAILED attempt is answered after a growing delay
 *   (a tarpit, capped at AUTH_FAILURE_MAX_DELAY_MS). A valid credential is always answered at
 *   once. The socket stays counted as unauthenticated while it waits, so one address key can
 *   try at most MAX_UNAUTHENTICATED_PER_IP / delay credentials per second. A failed HTTP
 *   authentication (history, SSE) held for its delay counts the same way (holdFailure): past the
 *   address key's allowance it is answered 429 at once instead of being held.
 * - Authenticated sockets per tenant (admin sockets are not a tenant's).
 */

export interface AdmissionLimits {
  maxUnauthenticated: number;
  maxUnauthenticatedPerIp: number;
  /** Failures per address key per minute answered at once; 0 disables the tarpit. */
  authFailuresPerIpPerMin: number;
  /** Longest delay before answering a failed authentication; 0 disables the tarpit. */
  authFailureMaxDelayMs: number;
  /** 0 disables the tenant cap. */
  maxConnectionsPerTenant: number;
}

export type UpgradeRefusal =
  | { status: "429 Too Many Requests"; reason: "unauthenticated_per_ip" }
  | { status: "503 Service Unavailable"; reason: "unauthenticated_total" };

/** The `reason` label values admission adds to smsws_upgrades_refused_total. */
export const UPGRADE_REFUSAL_REASONS = ["unauthenticated_per_ip", "unauthenticated_total"] as const satisfies readonly UpgradeRefusal["reason"][];

export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Delay of the first failure past the limit; each further failure doubles it, up to the cap. */
export const AUTH_FAILURE_BASE_DELAY_MS = 250;
/** Address keys whose failures are remembered at once (least recently failing forgotten first). */
export const MAX_TRACKED_ADDRESSES = 100_000;

/** Failures of one address key: two fixed windows, weighted into a sliding one. */
interface FailureWindow {
  /** Start of the current window. */
  start: number;
  current: number;
  previous: number;
  last: number;
}

export class Admission {
  #unauthenticated = 0;
  readonly #unauthenticatedByKey = new Map<string, number>();
  /** In order of last failure (re-inserted on each), so the oldest are first to go. */
  readonly #failures = new Map<string, FailureWindow>();
  readonly #tenants = new Map<string, number>();
  readonly #maxTracked: number;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number = Date.now,
    options: { maxTrackedAddresses?: number } = {},
  ) {
    this.#maxTracked = Math.max(1, options.maxTrackedAddresses ?? MAX_TRACKED_ADDRESSES);
  }

  /** Undefined when a socket from this address key may open now. */
  refuseUpgrade(addressKey: string): UpgradeRefusal | undefined {
    if ((this.#unauthenticatedByKey.get(addressKey) ?? 0) >= this.limits.maxUnauthenticatedPerIp) {
      return { status: "429 Too Many Requests", reason: "unauthenticated_per_ip" };
    }
    if (this.#unauthenticated >= this.limits.maxUnauthenticated) {
      return { status: "503 Service Unavailable", reason: "unauthenticated_total" };
    }
    return undefined;
  }

  /** A socket opened and waits for authentication. */
  opened(addressKey: string): void {
    this.#unauthenticated++;
    this.#unauthenticatedByKey.set(addressKey, (this.#unauthenticatedByKey.get(addressKey) ?? 0) + 1);
  }

  /**
   * A failed HTTP authentication is about to be held for its delay: it counts against the same
   * allowance as sockets waiting to authenticate (undefined: counted, settle() it once answered),
   * or, past the allowance, the refusal to answer at once instead (nothing counted).
   */
  holdFailure(addressKey: string): UpgradeRefusal | undefined {
    const refusal = this.refuseUpgrade(addressKey);
    if (refusal === undefined) this.opened(addressKey);
    return refusal;
  }

  /**
   * The socket stopped waiting for authentication: authenticated, or closed. A socket whose
   * failed authentication is being delayed has NOT settled yet: settle it when it closes.
   */
  settled(addressKey: string): void {
    this.#unauthenticated--;
    const n = (this.#unauthenticatedByKey.get(addressKey) ?? 1) - 1;
    if (n <= 0) this.#unauthenticatedByKey.delete(addressKey);
    else this.#unauthenticatedByKey.set(addressKey, n);
  }

  /**
   * Count a failed authentication (bad credential, bad first frame, timeout) and return how long
   * to wait before answering it: `failureDelayMs` after counting this one.
   */
  authFailed(addressKey: string): number {
    if (!this.#tarpitOn()) return 0;
    const t = this.now();
    let w = this.#failures.get(addressKey);
    if (w === undefined) {
      if (this.#failures.size >= this.#maxTracked) {
        const oldest = this.#failures.keys().next().value as string;
        this.#failures.delete(oldest);
      }
      w = { start: t, current: 0, previous: 0, last: t };
    } else {
      this.#failures.delete(addressKey);
      roll(w, t);
    }
    w.current++;
    w.last = t;
    this.#failures.set(addressKey, w);
    return this.#delayFor(w, t);
  }

  /**
   * How long the gateway waits before answering a FAILED authentication from this address key:
   * 0 while its failures in the last minute are below the limit, then 250 ms doubling with each
   * further failure, up to AUTH_FAILURE_MAX_DELAY_MS. Never applied to a valid credential.
   */
  failureDelayMs(addressKey: string): number {
    if (!this.#tarpitOn()) return 0;
    const w = this.#failures.get(addressKey);
    if (w === undefined) return 0;
    const t = this.now();
    roll(w, t);
    return this.#delayFor(w, t);
  }

  /** Failed authentications of this address key over the last minute (sliding estimate). */
  recentFailures(addressKey: string): number {
    const w = this.#failures.get(addressKey);
    if (w === undefined) return 0;
    const t = this.now();
    roll(w, t);
    return estimate(w, t);
  }

  /** Whether the tenant may hold one more authenticated socket; if so, it is counted. */
  joinTenant(tenantId: string): boolean {
    const n = this.#tenants.get(tenantId) ?? 0;
    if (this.limits.maxConnectionsPerTenant > 0 && n >= this.limits.maxConnectionsPerTenant) return false;
    this.#tenants.set(tenantId, n + 1);
    return true;
  }

  /** Authenticated sockets the tenant holds on this node (fleet quotas share these). */
  tenantConnections(tenantId: string): number {
    return this.#tenants.get(tenantId) ?? 0;
  }

  tenantCounts(): ReadonlyMap<string, number> {
    return this.#tenants;
  }

  leaveTenant(tenantId: string): void {
    const n = (this.#tenants.get(tenantId) ?? 1) - 1;
    if (n <= 0) this.#tenants.delete(tenantId);
    else this.#tenants.set(tenantId, n);
  }

  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  /** Address keys with failures remembered (bounded by MAX_TRACKED_ADDRESSES). */
  get trackedAddresses(): number {
    return this.#failures.size;
  }

  /**
   * Forget address keys with no failure in the last two windows (called periodically). Entries
   * are in order of last failure, so the walk stops at the first recent one.
   */
  sweep(): void {
    const t = this.now();
    for (const [key, w] of this.#failures) {
      if (t - w.last < AUTH_FAILURE_WINDOW_MS) break;
      roll(w, t);
      if (w.current === 0 && w.previous === 0) this.#failures.delete(key);
    }
  }

  #tarpitOn(): boolean {
    return this.limits.authFailuresPerIpPerMin > 0 && this.limits.authFailureMaxDelayMs > 0;
  }

  #delayFor(w: FailureWindow, t: number): number {
    const over = Math.floor(estimate(w, t)) - this.limits.authFailuresPerIpPerMin;
    if (over < 0) return 0;
    // 2^over overflows to Infinity long after the cap is reached; min() takes care of it.
    return Math.min(this.limits.authFailureMaxDelayMs, AUTH_FAILURE_BASE_DELAY_MS * 2 ** over);
  }
}

/** Move the windows forward to time t. */
function roll(w: FailureWindow, t: number): void {
  const elapsed = Math.floor((t - w.start) / AUTH_FAILURE_WINDOW_MS);
  if (elapsed <= 0) return;
  w.previous = elapsed === 1 ? w.current : 0;
  w.current = 0;
  w.start += elapsed * AUTH_FAILURE_WINDOW_MS;
}

/** Failures in the minute before t: the previous window weighted by how much of it is inside. */
function estimate(w: FailureWindow, t: number): number {
  const inside = 1 - (t - w.start) / AUTH_FAILURE_WINDOW_MS;
  return w.current + w.previous * inside;
}

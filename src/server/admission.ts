/**
 * Abuse limits, as plain bookkeeping (no sockets): who may upgrade, and which tenant may add one
 * more authenticated socket. The gateway asks before it acts and reports what happened.
 *
 * - unauthenticated sockets: a cap in total and per client address;
 * - failed authentications: a fixed one-minute window per client address; past the limit the
 *   address's upgrades get 429 until the window ends;
 * - authenticated sockets per tenant (admin sockets are not a tenant's).
 */

export interface AdmissionLimits {
  maxUnauthenticated: number;
  maxUnauthenticatedPerIp: number;
  /** 0 disables the auth-failure limit. */
  authFailuresPerIpPerMin: number;
  /** 0 disables the tenant cap. */
  maxConnectionsPerTenant: number;
}

export type UpgradeRefusal =
  | { status: "429 Too Many Requests"; reason: "auth_failures" | "unauthenticated_per_ip" }
  | { status: "503 Service Unavailable"; reason: "unauthenticated_total" };

const WINDOW_MS = 60_000;

export class Admission {
  #unauthenticated = 0;
  readonly #unauthenticatedByIp = new Map<string, number>();
  readonly #failures = new Map<string, { start: number; count: number }>();
  readonly #tenants = new Map<string, number>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the address may open a socket now. */
  refuseUpgrade(ip: string): UpgradeRefusal | undefined {
    if (this.#blocked(ip)) return { status: "429 Too Many Requests", reason: "auth_failures" };
    if ((this.#unauthenticatedByIp.get(ip) ?? 0) >= this.limits.maxUnauthenticatedPerIp) {
      return { status: "429 Too Many Requests", reason: "unauthenticated_per_ip" };
    }
    if (this.#unauthenticated >= this.limits.maxUnauthenticated) {
      return { status: "503 Service Unavailable", reason: "unauthenticated_total" };
    }
    return undefined;
  }

  /** A socket opened and waits for authentication. */
  opened(ip: string): void {
    this.#unauthenticated++;
    this.#unauthenticatedByIp.set(ip, (this.#unauthenticatedByIp.get(ip) ?? 0) + 1);
  }

  /** The socket stopped waiting for authentication (authenticated, rejected or closed). */
  settled(ip: string): void {
    this.#unauthenticated--;
    const n = (this.#unauthenticatedByIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#unauthenticatedByIp.delete(ip);
    else this.#unauthenticatedByIp.set(ip, n);
  }

  authFailed(ip: string): void {
    if (this.limits.authFailuresPerIpPerMin === 0) return;
    const t = this.now();
    const w = this.#failures.get(ip);
    if (w === undefined || t - w.start >= WINDOW_MS) this.#failures.set(ip, { start: t, count: 1 });
    else w.count++;
  }

  /** Whether the tenant may hold one more authenticated socket; if so, it is counted. */
  joinTenant(tenantId: string): boolean {
    const n = this.#tenants.get(tenantId) ?? 0;
    if (this.limits.maxConnectionsPerTenant > 0 && n >= this.limits.maxConnectionsPerTenant) return false;
    this.#tenants.set(tenantId, n + 1);
    return true;
  }

  leaveTenant(tenantId: string): void {
    const n = (this.#tenants.get(tenantId) ?? 1) - 1;
    if (n <= 0) this.#tenants.delete(tenantId);
    else this.#tenants.set(tenantId, n);
  }

  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  /** Forget expired failure windows (called periodically; bounded memory under address churn). */
  sweep(): void {
    const t = this.now();
    for (const [ip, w] of this.#failures) if (t - w.start >= WINDOW_MS) this.#failures.delete(ip);
  }

  #blocked(ip: string): boolean {
    const limit = this.limits.authFailuresPerIpPerMin;
    if (limit === 0) return false;
    const w = this.#failures.get(ip);
    return w !== undefined && this.now() - w.start < WINDOW_MS && w.count >= limit;
  }
}

/**
 * The client address: the socket's peer, or, behind a trusted proxy, the last entry of the
 * configured header (the address the proxy itself saw and appended).
 */
export function clientAddress(peer: string, headerValue: string): string {
  if (headerValue === "") return peer;
  const last = headerValue.split(",").at(-1)?.trim() ?? "";
  return last === "" ? peer : last;
}

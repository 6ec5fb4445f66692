/**
 * Fleet-wide per-tenant connection quotas (KV `sms_tenants`, `{maxConnections?}`), decided
 * without a round trip: every node shares its per-tenant counts every FLEET_COUNTS_INTERVAL_MS
 * (src/fleet/fleet-service.ts) and admits a socket from what it last heard.
 *
 * Two rules, both checked at admission:
 *   1. the fleet total (this node's count now + the other nodes' last shared counts) stays below
 *      the quota;
 *   2. between two of its own shares, a node admits at most ceil(headroom / nodes) new sockets of
 *      a quota'd tenant, where headroom = quota - fleet total when the interval's first socket
 *      of that tenant arrived and nodes = the nodes heard from recently, itself included.
 * Rule 1 alone lets every node fill the whole quota during one interval (a burst spread over N
 * nodes would overshoot by up to (N-1) x quota); rule 2 splits the headroom between the nodes so
 * a burst overshoots by about N-1 sockets (the rounding). The documented bound
 * (docs/operations-fleet.md): quota + sum over the other nodes of their per-interval budget,
 * i.e. at most quota + (N-1) x ceil(quota / N) when counts of a whole interval are in flight,
 * measured at quota + a few on three nodes. The price: a burst onto an empty tenant is admitted
 * over a few intervals (the rest get 4429, which the SDK retries with backoff).
 *
 * What another node claims is bounded, so that a spoofed or buggy claim can neither lock a tenant
 * out for long nor lift its quota (docs/operations-fleet.md, "Spoofed counts"):
 *   - a node's claim for a tenant counts at most min(quota, perNodeMax): what a real node could
 *     hold (perNodeMax is MAX_CONNECTIONS_PER_TENANT, the same on every node; 0: no such cap);
 *   - a claim expires staleMs after this node received it unless refreshed (local clock: a
 *     sender's skewed clock cannot make its claim live longer);
 *   - only tenants that have a quota are kept, and at most maxNodes nodes.
 * Which messages get here at all is src/fleet/counts-gate.ts's decision (signature, window, replay).
 */

/** Where the quotas come from (the watched `sms_tenants` bucket). */
export interface QuotaSource {
  /** The tenant's fleet-wide cap, or undefined for none. */
  maxConnections(tenantId: string): number | undefined;
}

/** Counts another node shared. */
export interface SharedCounts {
  readonly node: string;
  readonly at: number;
  readonly tenants: Readonly<Record<string, number>>;
}

export interface FleetQuotaOptions {
  /** How often nodes share (the interval of rule 2). */
  intervalMs: number;
  /** Another node's counts are forgotten this long after they arrived (default 3 intervals). */
  staleMs?: number;
  /** MAX_CONNECTIONS_PER_TENANT: no node can hold more of one tenant, so no claim counts more (0: off). */
  perNodeMax?: number;
  /** Most other nodes whose counts are kept (default 1024). */
  maxNodes?: number;
  now?: () => number;
}

export class FleetQuota {
  /** Per other node: its last counts (`at` on its clock) and when they arrived (`seen`, ours). */
  readonly #remote = new Map<string, { at: number; seen: number; tenants: Readonly<Record<string, number>> }>();
  /** Per tenant: the budget of this interval (fixed at its first admission) and what was used. */
  readonly #budget = new Map<string, { allowed: number; used: number }>();
  readonly #staleMs: number;
  readonly #perNodeMax: number;
  readonly #maxNodes: number;
  readonly #now: () => number;

  constructor(
    private readonly quotas: QuotaSource,
    options: FleetQuotaOptions,
  ) {
    this.#staleMs = options.staleMs ?? 3 * options.intervalMs;
    this.#perNodeMax = options.perNodeMax ?? 0;
    this.#maxNodes = options.maxNodes ?? 1024;
    this.#now = options.now ?? Date.now;
  }

  /** Counts from another node (the caller drops the node's own messages and those the gate refused). */
  receive(counts: SharedCounts): void {
    const known = this.#remote.get(counts.node);
    if (known !== undefined && known.at > counts.at) return; // reordered: keep the newer
    if (known === undefined && this.#remote.size >= this.#maxNodes) return;
    const tenants: Record<string, number> = {};
    for (const [tenantId, n] of Object.entries(counts.tenants)) if (this.hasQuota(tenantId)) tenants[tenantId] = n;
    this.#remote.set(counts.node, { at: counts.at, seen: this.#now(), tenants });
  }

  /** A node said goodbye (or was forgotten): its sockets no longer count. */
  forget(node: string): void {
    this.#remote.delete(node);
  }

  /** This node just shared its counts: a new interval (rule 2) begins; stale nodes are forgotten. */
  shared(): void {
    this.#budget.clear();
    const t = this.#now();
    for (const [node, c] of this.#remote) if (t - c.seen > this.#staleMs) this.#remote.delete(node);
  }

  /** Nodes heard from within the stale window, this one included. */
  get nodes(): number {
    const t = this.#now();
    let n = 1;
    for (const c of this.#remote.values()) if (t - c.seen <= this.#staleMs) n++;
    return n;
  }

  /** The other nodes' last shared count of a tenant, each node's claim bounded by what one node can hold. */
  remoteCount(tenantId: string): number {
    const t = this.#now();
    const cap = this.#claimCap(tenantId);
    let n = 0;
    for (const c of this.#remote.values()) if (t - c.seen <= this.#staleMs) n += Math.min(c.tenants[tenantId] ?? 0, cap);
    return n;
  }

  /** The most sockets of a tenant one node can hold: its quota, and MAX_CONNECTIONS_PER_TENANT when set. */
  #claimCap(tenantId: string): number {
    const max = this.quotas.maxConnections(tenantId) ?? Number.POSITIVE_INFINITY;
    return this.#perNodeMax > 0 ? Math.min(max, this.#perNodeMax) : max;
  }

  /** Whether the tenant has a quota (only those are shared). */
  hasQuota(tenantId: string): boolean {
    return this.quotas.maxConnections(tenantId) !== undefined;
  }

  /**
   * Whether one more socket of the tenant may join this node, which holds `current` of its
   * sockets now; if so, it is counted against this interval's budget.
   */
  admit(tenantId: string, current: number): boolean {
    const max = this.quotas.maxConnections(tenantId);
    if (max === undefined) return true;
    const total = current + this.remoteCount(tenantId);
    if (total >= max) return false;
    let budget = this.#budget.get(tenantId);
    if (budget === undefined) {
      budget = { allowed: Math.ceil((max - total) / this.nodes), used: 0 };
      this.#budget.set(tenantId, budget);
    }
    if (budget.used >= budget.allowed) return false;
    budget.used++;
    return true;
  }
}

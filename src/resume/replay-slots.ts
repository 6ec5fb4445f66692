/**
 * Admission of replays: how many run at once on the node, per credential and per tenant, and a
 * bounded queue with a deadline for the rest. Plain bookkeeping (no sockets, no NATS).
 *
 * Without per-owner caps, a few sockets of one key that resume from far back and never read hold
 * every slot, and every other tenant's resume waits behind them.
 */

export interface ReplayLimits {
  /** Replays running at once on the node. */
  total: number;
  perKey: number;
  perTenant: number;
  /** Replays waiting for a slot; beyond, a request is refused at once. */
  queueMax: number;
  /** Longest wait for a slot. */
  queueWaitMs: number;
}

/** Who replays: the credential (key hash or signer) and the tenant (none for admin keys). */
export interface ReplayOwner {
  readonly key: string;
  readonly tenantId: string | undefined;
}

export type SlotGrant = { granted: true; release: () => void } | { granted: false; reason: "queue_full" | "timeout" };

interface Waiter {
  owner: ReplayOwner;
  cancelled: () => boolean;
  resolve: (grant: SlotGrant) => void;
  timer: NodeJS.Timeout;
}

export class ReplaySlots {
  #running = 0;
  readonly #byKey = new Map<string, number>();
  readonly #byTenant = new Map<string, number>();
  #queue: Waiter[] = [];

  constructor(private readonly limits: ReplayLimits) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** A slot now, or a place in the queue; `cancelled` lets a closed socket give its place up. */
  acquire(owner: ReplayOwner, cancelled: () => boolean): Promise<SlotGrant> {
    if (this.#eligible(owner)) return Promise.resolve(this.#grant(owner));
    if (this.#queue.length >= this.limits.queueMax) this.#queue = this.#queue.filter((w) => !this.#dropIfCancelled(w));
    if (this.#queue.length >= this.limits.queueMax) return Promise.resolve({ granted: false, reason: "queue_full" });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        owner,
        cancelled,
        resolve,
        timer: setTimeout(() => {
          this.#queue = this.#queue.filter((w) => w !== waiter);
          resolve({ granted: false, reason: "timeout" });
        }, this.limits.queueWaitMs),
      };
      waiter.timer.unref();
      this.#queue.push(waiter);
    });
  }

  #eligible(owner: ReplayOwner): boolean {
    return (
      this.#running < this.limits.total &&
      (this.#byKey.get(owner.key) ?? 0) < this.limits.perKey &&
      (owner.tenantId === undefined || (this.#byTenant.get(owner.tenantId) ?? 0) < this.limits.perTenant)
    );
  }

  #grant(owner: ReplayOwner): SlotGrant {
    this.#running++;
    add(this.#byKey, owner.key, 1);
    if (owner.tenantId !== undefined) add(this.#byTenant, owner.tenantId, 1);
    let released = false;
    return {
      granted: true,
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        add(this.#byKey, owner.key, -1);
        if (owner.tenantId !== undefined) add(this.#byTenant, owner.tenantId, -1);
        this.#wake();
      },
    };
  }

  /** Grant every waiter that is now eligible, oldest first; one owner at its cap blocks no other. */
  #wake(): void {
    const still: Waiter[] = [];
    for (const w of this.#queue) {
      if (this.#dropIfCancelled(w)) continue;
      if (this.#eligible(w.owner)) {
        clearTimeout(w.timer);
        w.resolve(this.#grant(w.owner));
      } else {
        still.push(w);
      }
    }
    this.#queue = still;
  }

  #dropIfCancelled(w: Waiter): boolean {
    if (!w.cancelled()) return false;
    clearTimeout(w.timer);
    w.resolve({ granted: false, reason: "timeout" });
    return true;
  }
}

function add(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

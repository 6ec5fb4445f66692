/**
 * Delivery counts without a counter per socket: the TopicPublisher adds 1 per event to the
 * topic's counter and the socket count to the tenant's (two map updates per event and topic,
 * never a loop over sockets). A socket snapshots its topics' counters when it goes live; what it
 * was sent since is then `counter now - snapshot`, summed over its topics.
 *
 * The approximation (docs/operations-fleet.md): it counts what was published to the socket's
 * topics, not what the socket's kernel buffer took. It is exact for a socket that keeps up; it
 * over-counts events uWS dropped for a socket over its backpressure limit (which the sweep then
 * closes anyway) and leaves out replayed events (resume) and pings.
 */
export class DeliveryCounters {
  readonly #topics = new Map<string, number>();
  readonly #tenants = new Map<string, number>();

  /** One event published to `topic`, reaching `sockets` sockets; its tenant is `tenantId`. */
  published(topic: string, tenantId: string, sockets: number): void {
    this.#topics.set(topic, (this.#topics.get(topic) ?? 0) + 1);
    this.#tenants.set(tenantId, (this.#tenants.get(tenantId) ?? 0) + sockets);
  }

  /** Events published to the topic so far (0 for one never published to, or forgotten). */
  topic(topic: string): number {
    return this.#topics.get(topic) ?? 0;
  }

  /** The feeds' counters added up: one number per socket, not an array (docs/bench.md, "Idle memory per socket"). */
  sum(feeds: readonly { readonly topic: string }[]): number {
    let n = 0;
    for (const f of feeds) n += this.topic(f.topic);
    return n;
  }

  /** The topic has no subscription left: its counter goes (a socket that snapshotted it is gone). */
  forget(topic: string): void {
    this.#topics.delete(topic);
  }

  /** Socket deliveries per tenant since the node started (the event's tenant, as the metric). */
  tenants(): ReadonlyMap<string, number> {
    return this.#tenants;
  }
}

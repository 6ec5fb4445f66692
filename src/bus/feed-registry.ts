/**
 * Reference-counted NATS subscriptions, one per feed. The first socket of a scope subscribes the
 * feed's subject; the last one to leave unsubscribes it. The transport is injected so the counting
 * is testable without a server.
 */
import type { Feed } from "./feed.js";

export interface FeedTransport {
  /** Subscribe; returns the unsubscribe function. */
  subscribe(feed: Feed): () => void;
  /** Resolves once every subscription sent so far is active at the server. */
  flush(): Promise<void>;
}

interface Entry {
  count: number;
  unsubscribe: () => void;
  /** Settles once the subscription is active at the server. */
  active: Promise<void>;
}

export class FeedRegistry {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly transport: FeedTransport) {}

  /**
   * Take a reference on each feed. Resolves when all of them are subscribed at the server, so
   * that a client told "auth_ok" receives every event published from then on.
   */
  acquire(feeds: readonly Feed[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const feed of feeds) {
      let entry = this.#entries.get(feed.subject);
      if (entry !== undefined) {
        entry.count++;
      } else {
        const unsubscribe = this.transport.subscribe(feed);
        entry = { count: 1, unsubscribe, active: this.transport.flush() };
        this.#entries.set(feed.subject, entry);
      }
      pending.push(entry.active);
    }
    return Promise.all(pending).then(() => undefined);
  }

  release(feeds: readonly Feed[]): void {
    for (const feed of feeds) {
      const entry = this.#entries.get(feed.subject);
      if (entry === undefined) continue;
      if (--entry.count === 0) {
        this.#entries.delete(feed.subject);
        entry.unsubscribe();
      }
    }
  }

  /** Number of NATS subscriptions held. */
  get size(): number {
    return this.#entries.size;
  }

  references(subject: string): number {
    return this.#entries.get(subject)?.count ?? 0;
  }
}

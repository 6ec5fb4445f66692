/**
 * The scopes in use on the node, with their feeds: shared by all the scope's sockets (one object
 * per scope, not per socket), counted so the last socket to leave drops the entry.
 */
import { feedsOf, scopeKey, type Feed, type Scope } from "../scope/scope.js";

interface Entry {
  count: number;
  readonly scope: Scope;
  readonly feeds: readonly Feed[];
}

export class ScopeTable {
  readonly #entries = new Map<string, Entry>();

  get size(): number {
    return this.#entries.size;
  }

  join(scope: Scope): { scope: Scope; feeds: readonly Feed[] } {
    const key = scopeKey(scope);
    let entry = this.#entries.get(key);
    if (entry === undefined) this.#entries.set(key, (entry = { count: 0, scope, feeds: feedsOf(scope) }));
    entry.count++;
    return entry;
  }

  leave(scope: Scope): void {
    const key = scopeKey(scope);
    const entry = this.#entries.get(key);
    if (entry !== undefined && --entry.count <= 0) this.#entries.delete(key);
  }

  /**
   * Topics that reach every authenticated socket exactly once: every app socket is on its
   * tenant's tenant-wide topic (the last feed of an app scope), every admin socket on the admin
   * topic. The heartbeat goes through them, without a topic of its own (a topic subscription
   * costs memory on every socket).
   */
  broadcastTopics(): Set<string> {
    const topics = new Set<string>();
    for (const { feeds } of this.#entries.values()) topics.add((feeds.at(-1) as Feed).topic);
    return topics;
  }
}

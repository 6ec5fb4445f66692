/**
 * The node's derived topics in use (src/scope/filter-topics.ts): how many socket subscriptions
 * each has, and, per feed topic, which families have any. The topic publisher reads the latter
 * once per event, so a feed with no filtered socket costs one map lookup and nothing else.
 * Counted on subscribe and unsubscribe, never per event.
 */
import { DERIVED_FAMILIES, type DerivedFamily, type FamiliesInUse, type FilterTopic } from "../scope/filter-topics.js";

export class DerivedTopics {
  readonly #topics = new Map<string, number>();
  readonly #families = new Map<string, Record<DerivedFamily, number>>();

  /** Distinct derived topics with at least one socket (the smsws_derived_topics gauge). */
  get size(): number {
    return this.#topics.size;
  }

  /** Families of the feed with subscribers; undefined when the feed has no filtered socket. */
  families(feedTopic: string): FamiliesInUse | undefined {
    return this.#families.size === 0 ? undefined : this.#families.get(feedTopic);
  }

  add(feedTopic: string, t: FilterTopic): void {
    if (t.family === undefined) return;
    this.#topics.set(t.topic, (this.#topics.get(t.topic) ?? 0) + 1);
    let counts = this.#families.get(feedTopic);
    if (counts === undefined) {
      counts = Object.fromEntries(DERIVED_FAMILIES.map((f) => [f, 0])) as Record<DerivedFamily, number>;
      this.#families.set(feedTopic, counts);
    }
    counts[t.family]++;
  }

  remove(feedTopic: string, t: FilterTopic): void {
    if (t.family === undefined) return;
    const n = (this.#topics.get(t.topic) ?? 0) - 1;
    if (n <= 0) this.#topics.delete(t.topic);
    else this.#topics.set(t.topic, n);
    const counts = this.#families.get(feedTopic);
    if (counts === undefined) return;
    counts[t.family] = Math.max(0, counts[t.family] - 1);
    if (DERIVED_FAMILIES.every((f) => counts[f] === 0)) this.#families.delete(feedTopic);
  }
}

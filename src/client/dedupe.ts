/**
 * The last `capacity` event ids seen, for de-duplication with bounded memory: a Set for lookups
 * and a ring of the same ids to know which one to forget when full. The server delivers
 * at-least-once (a resume may replay what a dropped socket already delivered); this window turns
 * that into exactly-once for any duplicate that arrives within `capacity` events of the original.
 */
export class EventIdWindow {
  readonly capacity: number;
  readonly #ids = new Set<string>();
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#ring = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Records the id; returns false when it was already in the window (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#ids.delete(evicted);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.capacity;
    this.#ids.add(id);
    return true;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }
}

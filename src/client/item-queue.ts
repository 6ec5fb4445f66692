/**
 * One consumer's buffer behind an async iterator: the client pushes, `for await` pulls.
 * Unbounded: items wait here until the consumer takes them (SMS event rates make this the
 * right trade: losing events to a full buffer would defeat the point of the SDK).
 */
export class ItemQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #head = 0;
  #waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  #ended = false;
  #error: unknown = undefined;
  #hasError = false;
  readonly #onFinish: () => void;

  /** @param onFinish called once when the consumer stops (break / return()) or the queue ends. */
  constructor(onFinish: () => void = () => {}) {
    this.#onFinish = onFinish;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve({ value: item, done: false });
    else this.#items.push(item);
  }

  /** No more items: consumers drain what is buffered, then finish (or throw `error`). */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      this.#error = error;
      this.#hasError = true;
    }
    this.#onFinish();
    // Waiters exist only while the buffer is empty, so they get the end right away.
    for (const waiter of this.#waiting.splice(0)) this.#settleEnd(waiter);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    return new Promise((resolve, reject) => {
      if (this.#ended) this.#settleEnd({ resolve, reject });
      else this.#waiting.push({ resolve, reject });
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#items = [];
    this.#head = 0;
    this.#hasError = false;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settleEnd(waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }): void {
    if (this.#hasError) {
      // The error is thrown once; later next() calls just report done, like a finished generator.
      this.#hasError = false;
      waiter.reject(this.#error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }
}

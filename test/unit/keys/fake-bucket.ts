/** A KV bucket scripted entry by entry, for the watched-bucket logic without a NATS server. */
import type { WatchedEntry, WatchSource } from "../../../src/keys/watched-bucket.js";

export class FakeWatcher implements AsyncIterable<WatchedEntry> {
  readonly #items: (WatchedEntry | { end: true; error?: Error })[] = [];
  #wake: (() => void) | undefined;
  #onStop: () => void = () => {};
  stopped = false;
  /** Resolves once the view has stopped this watcher. */
  readonly whenStopped = new Promise<void>((resolve) => (this.#onStop = resolve));

  push(entry: WatchedEntry): void {
    this.#items.push(entry);
    this.#wake?.();
  }

  /** Ends the watch as a lost consumer would: normally, or with an error. */
  end(error?: Error): void {
    this.#items.push(error === undefined ? { end: true } : { end: true, error });
    this.#wake?.();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.#onStop();
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchedEntry> {
    for (;;) {
      const item = this.#items.shift();
      if (item === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      if ("end" in item) {
        if (item.error) throw item.error;
        return;
      }
      yield item;
    }
  }
}

export class FakeBucket implements WatchSource {
  /** What status() reports: the number of values the next watch will replay. */
  values = 0;
  readonly watchers: FakeWatcher[] = [];
  #watchWaiters: ((w: FakeWatcher) => void)[] = [];

  async status(): Promise<{ values: number }> {
    return { values: this.values };
  }

  async watch(): Promise<FakeWatcher> {
    const watcher = new FakeWatcher();
    this.watchers.push(watcher);
    for (const waiter of this.#watchWaiters.splice(0)) waiter(watcher);
    return watcher;
  }

  /** Resolves with the watch number `n` (1-based) once it has been opened. */
  nthWatch(n: number): Promise<FakeWatcher> {
    const existing = this.watchers[n - 1];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => {
      const check = (w: FakeWatcher): void => {
        if (this.watchers.length >= n) resolve(this.watchers[n - 1] as FakeWatcher);
        else this.#watchWaiters.push(check);
      };
      this.#watchWaiters.push(check);
    });
  }
}

let revision = 0;

/**
 * A PUT entry. `value` is what json() returns; a string starting with "!" is a value that is not
 * JSON (json() throws), and "" an empty value.
 */
export function put(key: string, value: unknown, at: { isUpdate?: boolean; delta?: number; created?: Date } = {}): WatchedEntry {
  return {
    key,
    operation: "PUT",
    revision: ++revision,
    length: value === "" ? 0 : (JSON.stringify(value) ?? "").length,
    isUpdate: at.isUpdate ?? true,
    ...(at.delta === undefined ? {} : { delta: at.delta }),
    created: at.created ?? new Date(),
    json: <T>() => {
      if (typeof value === "string" && value.startsWith("!")) throw new SyntaxError("not JSON");
      return value as T;
    },
  };
}

export function del(key: string, operation: "DEL" | "PURGE" = "DEL"): WatchedEntry {
  return { key, operation, revision: ++revision, length: 0, isUpdate: true, created: new Date(), json: <T>() => undefined as T };
}

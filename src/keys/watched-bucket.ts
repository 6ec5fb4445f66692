/**
 * An in-memory view of one KV bucket, kept current by a watcher: load everything, then apply
 * live updates, and re-watch after a loss. What a record is, and which change takes something
 * away (a revocation), is decided by a RecordKind; this class only keeps the map and tells.
 * The API-key store, the token-signer store and the revoked-token set are all built on it.
 *
 * Events, in the order a listener sees them:
 * - `loaded` after each complete (re)load;
 * - `revoked` (key) for every change the RecordKind calls a revocation, live or found on a
 *   re-watch (what changed while the watch was lost). Never on the first load: nothing can
 *   have been granted before it;
 * - `updated` after every live change;
 * - `watch_lost` when a watch fails or ends; a new one starts after `retryDelayMs`.
 */
import type { Logger } from "pino";

/** What the view reads of a watch entry (`KvWatchEntry` of @nats-io/kv fits). */
export interface WatchedEntry {
  readonly key: string;
  readonly operation: "PUT" | "DEL" | "PURGE";
  /** Set once the initial values have all been delivered. */
  readonly isUpdate: boolean;
  /** Entries still pending after this one, during the initial delivery. */
  readonly delta?: number;
  readonly created: Date;
  json<T>(): T;
}

/** The narrow slice of a KV bucket the view needs (`KV` of @nats-io/kv fits). */
export interface WatchSource {
  status(): Promise<{ readonly values: number }>;
  watch(): Promise<AsyncIterable<WatchedEntry> & { stop(): void }>;
}

export interface RecordKind<R> {
  /** What the records are, for log lines: "api key", "token signer". */
  readonly noun: string;
  /** The record of a PUT entry; null when unusable (it is then treated as absent). May throw. */
  parse(entry: WatchedEntry): R | null;
  /** Whether replacing `before` by `after` (undefined: absent) takes away what was granted. */
  revokes(before: R | undefined, after: R | undefined): boolean;
  /** How a key may appear in logs (API keys: a hash prefix). Default: as is. */
  logKey?(key: string): string;
}

export type WatchedBucketEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; key: string }
  | { type: "updated"; size: number }
  | { type: "watch_lost"; error: string };

export interface WatchedBucketOptions {
  /** Delay before re-watching after a loss. Default 1000 ms. */
  retryDelayMs?: number;
}

export class WatchedBucket<R> {
  readonly #records = new Map<string, R>();
  readonly #listeners = new Set<(e: WatchedBucketEvent) => void>();
  readonly #retryDelayMs: number;
  #loaded = false;
  #stopped = false;
  #stopWatch: (() => void) | undefined;
  #lastUpdate = 0;
  #rejectStart: ((err: Error) => void) | undefined;

  constructor(
    private readonly source: WatchSource,
    private readonly kind: RecordKind<R>,
    private readonly log: Logger,
    options: WatchedBucketOptions = {},
  ) {
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /** The first complete load has happened (readiness). */
  get loaded(): boolean {
    return this.#loaded;
  }

  get size(): number {
    return this.#records.size;
  }

  /** When the view last changed (ms since the epoch; 0 before the first load). */
  get lastUpdate(): number {
    return this.#lastUpdate;
  }

  get(key: string): R | undefined {
    return this.#records.get(key);
  }

  has(key: string): boolean {
    return this.#records.has(key);
  }

  /** Forgets records that no longer matter (e.g. expired in the bucket), without any event. */
  prune(stale: (record: R, key: string) => boolean): number {
    let removed = 0;
    for (const [key, record] of this.#records) {
      if (stale(record, key)) {
        this.#records.delete(key);
        removed++;
      }
    }
    return removed;
  }

  on(listener: (e: WatchedBucketEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Starts watching; resolves once the first full load is complete, and keeps watching (with a
   * re-watch after each loss) until stop(). Rejects only if stop() comes before that load.
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#stopped) return reject(new Error(`${this.kind.noun} watch already stopped`));
      this.#rejectStart = reject;
      let first = true;
      const run = (): void => {
        if (this.#stopped) return;
        this.#watchOnce(() => {
          if (first) {
            first = false;
            this.#rejectStart = undefined;
            resolve();
          }
        }).then(
          () => this.#lost("watch ended", run),
          (err: unknown) => this.#lost(String(err), run),
        );
      };
      run();
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#stopWatch?.();
    this.#rejectStart?.(new Error(`${this.kind.noun} watch stopped before the first load`));
    this.#rejectStart = undefined;
  }

  #lost(error: string, run: () => void): void {
    if (this.#stopped) return;
    this.#emit({ type: "watch_lost", error });
    const timer = setTimeout(run, this.#retryDelayMs);
    timer.unref();
  }

  /**
   * One watch: replays the bucket's current values into a fresh snapshot, swaps it in when
   * complete (revoking what changed while we were not watching), then applies live updates
   * until the watcher ends.
   */
  async #watchOnce(onLoaded: () => void): Promise<void> {
    const watcher = await this.source.watch();
    this.#stopWatch = () => watcher.stop();
    try {
      if (this.#stopped) return;
      // Counted after the watcher exists: values that expire or are purged between a count
      // and the watch would otherwise be waited for forever. Zero now means none are coming.
      const { values } = await this.source.status();
      const snapshot = new Map<string, R>();
      let loading = true;
      const finishLoad = (): void => {
        loading = false;
        this.#swapIn(snapshot);
        onLoaded();
      };
      if (values === 0) finishLoad();
      for await (const entry of watcher) {
        if (this.#stopped) break;
        if (loading) {
          this.#applyTo(snapshot, entry);
          if (entry.isUpdate || entry.delta === 0) finishLoad();
        } else {
          this.#applyLive(entry);
        }
      }
    } finally {
      watcher.stop();
    }
  }

  #swapIn(snapshot: ReadonlyMap<string, R>): void {
    const before = new Map(this.#records);
    this.#records.clear();
    for (const [key, record] of snapshot) this.#records.set(key, record);
    if (this.#loaded) {
      for (const key of new Set([...before.keys(), ...snapshot.keys()])) {
        if (this.kind.revokes(before.get(key), snapshot.get(key))) this.#revoked(key);
      }
    }
    this.#loaded = true;
    this.#lastUpdate = Date.now();
    this.#emit({ type: "loaded", size: this.#records.size });
  }

  #applyLive(entry: WatchedEntry): void {
    const before = this.#records.get(entry.key);
    this.#applyTo(this.#records, entry);
    this.#lastUpdate = Date.now();
    if (this.kind.revokes(before, this.#records.get(entry.key))) this.#revoked(entry.key);
    this.#emit({ type: "updated", size: this.#records.size });
  }

  #applyTo(records: Map<string, R>, entry: WatchedEntry): void {
    if (entry.operation !== "PUT") {
      records.delete(entry.key);
      return;
    }
    let record: R | null;
    try {
      record = this.kind.parse(entry);
    } catch {
      record = null;
    }
    if (record === null) {
      this.log.warn({ key: this.#logKey(entry.key) }, `unusable ${this.kind.noun} record ignored`);
      records.delete(entry.key);
      return;
    }
    records.set(entry.key, record);
  }

  #revoked(key: string): void {
    this.log.info({ key: this.#logKey(key) }, `${this.kind.noun} revoked`);
    this.#emit({ type: "revoked", key });
  }

  #logKey(key: string): string {
    return this.kind.logKey ? this.kind.logKey(key) : key;
  }

  #emit(e: WatchedBucketEvent): void {
    for (const listener of this.#listeners) listener(e);
  }
}

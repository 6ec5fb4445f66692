/**
 * An in-memory view of one KV bucket, kept current by a watcher: load everything, then apply
 * live updates, and re-watch after a loss. What a record is, and which change takes something
 * away (a revocation), is decided by a RecordKind; this class only keeps the map and tells.
 * The API-key store, the token-signer store and the revoked-token set are all built on it.
 *
 * Trust: a bucket value is not trusted to be what its writer meant. nats-server can be made to
 * publish its own answers (a JetStream API response, a publish ack) into a bucket through a
 * request's reply subject (docs/security.md, "Bucket values"). So a PUT whose value does not parse
 * as a valid record of the bucket never replaces the last valid record of its key, and never
 * takes anything away: it is ignored, logged at error level as an alarm (key as `logKey` shows
 * it, revision, reason; never the value) and reported as a `rejected` event (the node counts it).
 * Only a real delete or purge (the entry's `operation`, from the `KV-Operation` header) removes a
 * record.
 *
 * Events, in the order a listener sees them:
 * - `loaded` after each complete (re)load;
 * - `revoked` (key) for every change the RecordKind calls a revocation, live or found on a
 *   re-watch (what changed while the watch was lost). Never on the first load: nothing can
 *   have been granted before it;
 * - `updated` after every live change;
 * - `rejected` for every PUT whose value is not a valid record (live, or found on a (re)load);
 * - `watch_lost` when a watch fails or ends; a new one starts after `retryDelayMs`.
 */
import type { Logger } from "pino";

/** What the view reads of a watch entry (`KvWatchEntry` of @nats-io/kv fits). */
export interface WatchedEntry {
  readonly key: string;
  readonly operation: "PUT" | "DEL" | "PURGE";
  /** The entry's sequence in the bucket's stream (for alarms). */
  readonly revision: number;
  /** Size of the value in bytes. */
  readonly length: number;
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

/** The watched buckets, as metric labels (`smsws_bucket_rejected_values_total{bucket}`). */
export const WATCHED_BUCKETS = ["api_keys", "token_signers", "revoked_tokens", "tenants"] as const;
export type WatchedBucketId = (typeof WATCHED_BUCKETS)[number];

export interface RecordKind<R> {
  /** What the records are, for log lines: "api key", "token signer". */
  readonly noun: string;
  /** Which bucket (a metric label). */
  readonly bucket: WatchedBucketId;
  /**
   * The record in a PUT entry's JSON value; null when it is not a valid record of this bucket
   * (it is then rejected: see the file comment). May throw (also a rejection).
   */
  parse(value: unknown, entry: WatchedEntry): R | null;
  /** Whether replacing `before` by `after` (undefined: absent) takes away what was granted. */
  revokes(before: R | undefined, after: R | undefined): boolean;
  /** How a key may appear in logs (API keys: a hash prefix). Default: as is. */
  logKey?(key: string): string;
}

/** Why a PUT's value was rejected (a bounded set: a metric label). */
export const REJECTED_VALUE_REASONS = ["empty", "not_json", "jetstream_api_response", "jetstream_ack", "invalid_record"] as const;
export type RejectedValueReason = (typeof REJECTED_VALUE_REASONS)[number];

/** A PUT whose value was not a valid record: ignored, the last valid record (if any) kept. */
export interface RejectedValueEvent {
  type: "rejected";
  bucket: WatchedBucketId;
  key: string;
  revision: number;
  reason: RejectedValueReason;
}

export type WatchedBucketEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; key: string }
  | { type: "updated"; size: number }
  | RejectedValueEvent
  | { type: "watch_lost"; error: string };

/**
 * Names what a value that is not a record looks like. The JetStream shapes are what the
 * reply-subject trick writes (an API response always has a `type` "io.nats.jetstream.api...",
 * a publish ack is `{stream, seq}`): seeing them in an alarm says who wrote it.
 */
export function rejectionReason(entry: WatchedEntry, value: unknown, parsedJson: boolean): RejectedValueReason {
  if (entry.length === 0) return "empty";
  if (!parsedJson) return "not_json";
  if (typeof value === "object" && value !== null) {
    const o = value as Record<string, unknown>;
    if (typeof o.type === "string" && o.type.startsWith("io.nats.jetstream.api.")) return "jetstream_api_response";
    if (typeof o.stream === "string" && typeof o.seq === "number") return "jetstream_ack";
  }
  return "invalid_record";
}

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
      // Keys whose latest value was rejected during this load: they keep their record from
      // before the re-watch, if there was one.
      const rejected = new Set<string>();
      let loading = true;
      const finishLoad = (): void => {
        loading = false;
        this.#swapIn(snapshot, rejected);
        onLoaded();
      };
      if (values === 0) finishLoad();
      for await (const entry of watcher) {
        if (this.#stopped) break;
        if (loading) {
          if (this.#applyTo(snapshot, entry)) rejected.delete(entry.key);
          else rejected.add(entry.key);
          if (entry.isUpdate || entry.delta === 0) finishLoad();
        } else {
          this.#applyLive(entry);
        }
      }
    } finally {
      watcher.stop();
    }
  }

  #swapIn(snapshot: ReadonlyMap<string, R>, rejected: ReadonlySet<string>): void {
    const before = new Map(this.#records);
    this.#records.clear();
    for (const [key, record] of snapshot) this.#records.set(key, record);
    for (const key of rejected) {
      const kept = before.get(key);
      if (kept !== undefined && !snapshot.has(key)) this.#records.set(key, kept);
    }
    if (this.#loaded) {
      for (const key of new Set([...before.keys(), ...snapshot.keys()])) {
        if (this.kind.revokes(before.get(key), this.#records.get(key))) this.#revoked(key);
      }
    }
    this.#loaded = true;
    this.#lastUpdate = Date.now();
    this.#emit({ type: "loaded", size: this.#records.size });
  }

  #applyLive(entry: WatchedEntry): void {
    const before = this.#records.get(entry.key);
    if (!this.#applyTo(this.#records, entry)) return;
    this.#lastUpdate = Date.now();
    if (this.kind.revokes(before, this.#records.get(entry.key))) this.#revoked(entry.key);
    this.#emit({ type: "updated", size: this.#records.size });
  }

  /** Applies a delete or a valid PUT; false (and `records` untouched) when the PUT is rejected. */
  #applyTo(records: Map<string, R>, entry: WatchedEntry): boolean {
    if (entry.operation === "DEL" || entry.operation === "PURGE") {
      records.delete(entry.key);
      return true;
    }
    let value: unknown;
    let parsedJson = false;
    let record: R | null = null;
    try {
      if (entry.length > 0) {
        value = entry.json<unknown>();
        parsedJson = true;
        record = this.kind.parse(value, entry);
      }
    } catch {
      record = null;
    }
    if (entry.operation !== "PUT" || record === null) {
      this.#rejected(entry, entry.operation !== "PUT" ? "invalid_record" : rejectionReason(entry, value, parsedJson));
      return false;
    }
    records.set(entry.key, record);
    return true;
  }

  #rejected(entry: WatchedEntry, reason: RejectedValueReason): void {
    const key = this.#logKey(entry.key);
    // An alarm: nothing the admin tooling writes is rejected, so someone else wrote into the bucket.
    this.log.error(
      { alarm: "bucket_value_rejected", bucket: this.kind.bucket, key, revision: entry.revision, reason },
      `rejected a ${this.kind.noun} value that is not a valid record; kept the last valid one`,
    );
    this.#emit({ type: "rejected", bucket: this.kind.bucket, key: entry.key, revision: entry.revision, reason });
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

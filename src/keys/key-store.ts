/**
 * In-memory view of the API-key bucket, kept current by a KV watcher (WatchedBucket).
 * Authentication is a map lookup. A delete, a purge or a scope change revokes the key: listeners
 * are told the hash so every socket using it is closed. A value that is not a valid key record
 * changes nothing (WatchedBucket rejects it).
 */
import type { Logger } from "pino";
import { hashApiKey, hashPrefix, parseKeyRecord, sameGrant, type KeyRecord } from "./key-record.js";
import { WatchedBucket, type RecordKind, type RejectedValueEvent, type WatchSource } from "./watched-bucket.js";

export type KeyStoreEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; hash: string }
  | { type: "updated"; size: number }
  | RejectedValueEvent
  | { type: "watch_lost"; error: string };

const apiKeyRecords: RecordKind<KeyRecord> = {
  noun: "api key",
  bucket: "api_keys",
  parse: (value) => parseKeyRecord(value),
  revokes: (before, after) => before !== undefined && (after === undefined || !sameGrant(before, after)),
  // Never a whole hash in logs.
  logKey: hashPrefix,
};

export class KeyStore {
  readonly #bucket: WatchedBucket<KeyRecord>;
  /**
   * One answer per stored record, so every socket of a key shares its hash string instead of
   * holding its own 64-character copy (docs/bench.md, "Idle memory per socket"). Weak: an entry
   * goes with its record when the record is replaced or deleted.
   */
  readonly #found = new WeakMap<KeyRecord, { readonly hash: string; readonly record: KeyRecord }>();

  constructor(kv: WatchSource, log: Logger, retryDelayMs = 1000) {
    this.#bucket = new WatchedBucket(kv, apiKeyRecords, log, { retryDelayMs });
  }

  get loaded(): boolean {
    return this.#bucket.loaded;
  }

  get size(): number {
    return this.#bucket.size;
  }

  /** When the store last changed, ms since the epoch. */
  get lastUpdate(): number {
    return this.#bucket.lastUpdate;
  }

  on(listener: (e: KeyStoreEvent) => void): () => void {
    return this.#bucket.on((e) => listener(e.type === "revoked" ? { type: "revoked", hash: e.key } : e));
  }

  /** The record for a plaintext API key, or undefined. */
  lookup(apiKey: string): { hash: string; record: KeyRecord } | undefined {
    const hash = hashApiKey(apiKey);
    const record = this.#bucket.get(hash);
    if (record === undefined) return undefined;
    let found = this.#found.get(record);
    if (found === undefined || found.hash !== hash) this.#found.set(record, (found = Object.freeze({ hash, record })));
    return found;
  }

  has(hash: string): boolean {
    return this.#bucket.has(hash);
  }

  /** Start watching; resolves once the first full load is complete. Re-watches on loss. */
  start(): Promise<void> {
    return this.#bucket.start();
  }

  stop(): void {
    this.#bucket.stop();
  }
}

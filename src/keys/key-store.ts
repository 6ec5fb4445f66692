/**
 * In-memory view of the API-key bucket, kept current by a KV watcher. Authentication is a map
 * lookup. A delete, a purge, an unusable value or a scope change revokes the key: listeners are
 * told the hash so every socket using it is closed.
 */
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Logger } from "pino";
import { hashApiKey, hashPrefix, parseKeyRecord, sameGrant, type KeyRecord } from "./key-record.js";

export type KeyStoreEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; hash: string }
  | { type: "updated"; size: number }
  | { type: "watch_lost"; error: string };

export class KeyStore {
  readonly #records = new Map<string, KeyRecord>();
  readonly #listeners = new Set<(e: KeyStoreEvent) => void>();
  #loaded = false;
  #stopped = false;
  #stopWatch: (() => void) | undefined;
  lastUpdate = 0;

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly retryDelayMs = 1000,
  ) {}

  get loaded(): boolean {
    return this.#loaded;
  }

  get size(): number {
    return this.#records.size;
  }

  on(listener: (e: KeyStoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The record for a plaintext API key, or undefined. */
  lookup(apiKey: string): { hash: string; record: KeyRecord } | undefined {
    const hash = hashApiKey(apiKey);
    const record = this.#records.get(hash);
    return record === undefined ? undefined : { hash, record };
  }

  has(hash: string): boolean {
    return this.#records.has(hash);
  }

  /** Whether the hash still grants exactly this record's scope. */
  stillGrants(hash: string, record: KeyRecord): boolean {
    const current = this.#records.get(hash);
    return current !== undefined && sameGrant(current, record);
  }

  /** Start watching; resolves once the first full load is complete. Re-watches on loss. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let first = true;
      const run = (): void => {
        this.#watchOnce(() => {
          if (first) {
            first = false;
            resolve();
          }
        }).then(
          () => this.#retry(run),
          (err: unknown) => {
            this.#emit({ type: "watch_lost", error: String(err) });
            if (first && this.#stopped) reject(err);
            else this.#retry(run);
          },
        );
      };
      run();
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#stopWatch?.();
  }

  #retry(run: () => void): void {
    if (this.#stopped) return;
    const timer = setTimeout(run, this.retryDelayMs);
    timer.unref();
  }

  /**
   * One watch: replays the bucket's current values into a fresh snapshot, swaps it in when
   * complete (revoking what disappeared while we were not watching), then applies live updates
   * until the watcher ends.
   */
  async #watchOnce(onLoaded: () => void): Promise<void> {
    const status = await this.kv.status();
    const watcher = await this.kv.watch();
    this.#stopWatch = () => watcher.stop();
    const snapshot = new Map<string, KeyRecord>();
    let loading = true;
    const finishLoad = (): void => {
      loading = false;
      const before = new Map(this.#records);
      this.#records.clear();
      for (const [hash, record] of snapshot) this.#records.set(hash, record);
      for (const [hash, old] of before) {
        const now = this.#records.get(hash);
        if (now === undefined || !sameGrant(old, now)) this.#emit({ type: "revoked", hash });
      }
      this.#loaded = true;
      this.lastUpdate = Date.now();
      this.#emit({ type: "loaded", size: this.#records.size });
      onLoaded();
    };
    if (status.values === 0) finishLoad();
    for await (const entry of watcher) {
      if (this.#stopped) break;
      if (loading) {
        applyTo(snapshot, entry, this.log);
        if (entry.isUpdate || entry.delta === 0) finishLoad();
      } else {
        this.#applyLive(entry);
      }
    }
  }

  #applyLive(entry: KvWatchEntry): void {
    const before = this.#records.get(entry.key);
    applyTo(this.#records, entry, this.log);
    const after = this.#records.get(entry.key);
    this.lastUpdate = Date.now();
    if (before !== undefined && (after === undefined || !sameGrant(before, after))) {
      this.log.info({ keyHash: hashPrefix(entry.key) }, "api key revoked");
      this.#emit({ type: "revoked", hash: entry.key });
    }
    this.#emit({ type: "updated", size: this.#records.size });
  }

  #emit(e: KeyStoreEvent): void {
    for (const listener of this.#listeners) listener(e);
  }
}

function applyTo(records: Map<string, KeyRecord>, entry: KvWatchEntry, log: Logger): void {
  if (entry.operation !== "PUT") {
    records.delete(entry.key);
    return;
  }
  let record: KeyRecord | null = null;
  try {
    record = parseKeyRecord(entry.json());
  } catch {
    record = null;
  }
  if (record === null) {
    log.warn({ keyHash: hashPrefix(entry.key) }, "unusable api key record ignored");
    records.delete(entry.key);
    return;
  }
  records.set(entry.key, record);
}

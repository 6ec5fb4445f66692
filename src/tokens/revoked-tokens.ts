/**
 * The set of revoked token ids (`sms_revoked_tokens`: key = jti), kept current by a KV
 * watcher. A new entry revokes: listeners get the jti so the socket using that token is closed.
 * Only a value in the revocation format (revocation-record.ts) is an entry; any other value under
 * a jti is rejected (counted and logged by WatchedBucket) and revokes nothing.
 *
 * Entries expire in the bucket after TOKEN_MAX_TTL_S (the bucket's TTL), by which time every
 * token carrying the jti has expired too. A watcher is not told about expiries, so the set
 * forgets entries older than the TTL on its own, every `pruneIntervalMs`.
 */
import type { Logger } from "pino";
import { WatchedBucket, type RecordKind, type RejectedValueEvent, type WatchedBucketOptions, type WatchSource } from "../keys/watched-bucket.js";
import { parseRevocationRecord } from "./revocation-record.js";

export type RevokedTokensEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; jti: string }
  | { type: "updated"; size: number }
  | RejectedValueEvent
  | { type: "watch_lost"; error: string };

export interface RevokedTokenRecord {
  /** When the entry was written (ms since the epoch, the server's clock: what the TTL counts from). */
  readonly revokedAtMs: number;
}

export interface RevokedTokensOptions extends WatchedBucketOptions {
  /** The bucket's TTL (TOKEN_MAX_TTL_S in ms): entries older than this are forgotten. 0: never. */
  ttlMs: number;
  /** How often old entries are forgotten. Default 10 minutes. */
  pruneIntervalMs?: number;
  /** Clock, ms since the epoch; default Date.now. */
  nowMs?: () => number;
}

const revokedTokenRecords: RecordKind<RevokedTokenRecord> = {
  noun: "token revocation",
  bucket: "revoked_tokens",
  parse: (value, entry) => (parseRevocationRecord(value) === null ? null : { revokedAtMs: entry.created.getTime() }),
  revokes: (before, after) => before === undefined && after !== undefined,
};

export class RevokedTokens {
  readonly #bucket: WatchedBucket<RevokedTokenRecord>;
  readonly #ttlMs: number;
  readonly #pruneIntervalMs: number;
  readonly #nowMs: () => number;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;

  constructor(kv: WatchSource, log: Logger, options: RevokedTokensOptions) {
    this.#bucket = new WatchedBucket(kv, revokedTokenRecords, log, options);
    this.#ttlMs = options.ttlMs;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  get loaded(): boolean {
    return this.#bucket.loaded;
  }

  get size(): number {
    return this.#bucket.size;
  }

  get lastUpdate(): number {
    return this.#bucket.lastUpdate;
  }

  isRevoked(jti: string): boolean {
    return this.#bucket.has(jti);
  }

  on(listener: (e: RevokedTokensEvent) => void): () => void {
    return this.#bucket.on((e) => listener(e.type === "revoked" ? { type: "revoked", jti: e.key } : e));
  }

  /** Forgets entries older than the bucket's TTL; returns how many. */
  prune(): number {
    if (this.#ttlMs <= 0) return 0;
    const cutoff = this.#nowMs() - this.#ttlMs;
    return this.#bucket.prune((record) => record.revokedAtMs <= cutoff);
  }

  /** Start watching; resolves once the first full load is complete. Re-watches on loss. */
  async start(): Promise<void> {
    if (this.#pruneTimer === undefined && this.#ttlMs > 0) {
      this.#pruneTimer = setInterval(() => this.prune(), this.#pruneIntervalMs);
      this.#pruneTimer.unref();
    }
    await this.#bucket.start();
  }

  stop(): void {
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    this.#bucket.stop();
  }
}

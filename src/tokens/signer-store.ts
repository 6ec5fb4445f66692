/**
 * In-memory view of the token-signer bucket (`sms_token_signers`), kept current by a KV
 * watcher. Verifying a token looks its `kid` up here. Deleting a signer, or changing its scope or
 * key, revokes it: listeners get the kid so every socket authenticated with its tokens is closed.
 * A value that is not a valid signer record changes nothing (WatchedBucket rejects it).
 */
import type { Logger } from "pino";
import { WatchedBucket, type RecordKind, type RejectedValueEvent, type WatchedBucketOptions, type WatchSource } from "../keys/watched-bucket.js";
import { parseSignerRecord, sameSignerGrant, type SignerRecord } from "./signer-record.js";

export type SignerStoreEvent =
  | { type: "loaded"; size: number }
  | { type: "revoked"; kid: string }
  | { type: "updated"; size: number }
  | RejectedValueEvent
  | { type: "watch_lost"; error: string };

const signerRecords: RecordKind<SignerRecord> = {
  noun: "token signer",
  bucket: "token_signers",
  parse: (value) => parseSignerRecord(value),
  revokes: (before, after) => before !== undefined && (after === undefined || !sameSignerGrant(before, after)),
};

export class SignerStore {
  readonly #bucket: WatchedBucket<SignerRecord>;

  constructor(kv: WatchSource, log: Logger, options: WatchedBucketOptions = {}) {
    this.#bucket = new WatchedBucket(kv, signerRecords, log, options);
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

  /** The signer with this kid; undefined when unknown, deleted or unusable. */
  signer(kid: string): SignerRecord | undefined {
    return this.#bucket.get(kid);
  }

  has(kid: string): boolean {
    return this.#bucket.has(kid);
  }

  on(listener: (e: SignerStoreEvent) => void): () => void {
    return this.#bucket.on((e) => listener(e.type === "revoked" ? { type: "revoked", kid: e.key } : e));
  }

  /** Start watching; resolves once the first full load is complete. Re-watches on loss. */
  start(): Promise<void> {
    return this.#bucket.start();
  }

  stop(): void {
    this.#bucket.stop();
  }
}

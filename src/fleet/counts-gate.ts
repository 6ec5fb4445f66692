/**
 * Which counts messages (`sms-ws.fleet.counts.<node id>`) a node believes. The gateway role may
 * publish on that subject, so anyone holding the gateway password can send one; with the fleet
 * key (FLEET_SIGNING_KEY) only a key holder can send one that passes here:
 *   - the body parses, and its node is the subject's last token;
 *   - signed mode (the node has a fleet key): a valid signature over the subject and the exact
 *     bytes, by the node's own public key or one in FLEET_PUBLIC_KEY;
 *   - `at` within WINDOW_MS of this node's clock, and later than the last message of that node
 *     accepted here (a replayed message, even a genuine one, is refused; the last `at` outlives a
 *     goodbye, so replaying a node's counts after its goodbye does not bring its sockets back);
 *   - at most MAX_NODES nodes tracked (bounded memory whatever the publisher sends), and at most
 *     VERIFICATIONS_PER_S signature checks a second (bounded CPU).
 * Unsigned mode (no fleet key: dev) checks all but the signature. A refused message changes
 * nothing: the quota keeps what it had (docs/operations-fleet.md, "Spoofed counts").
 */
import type { KeyObject } from "node:crypto";
import { countsContext, verifyFleet } from "./fleet-key.js";
import { FLEET_SUBJECTS, type CountsMessage } from "./messages.js";

/** How far a counts message's `at` may be from this node's clock (covers clock skew and delivery). */
export const COUNTS_WINDOW_MS = 30_000;
/** Most nodes one node keeps counts (and the last `at`) of. */
export const MAX_NODES = 1024;

/** Signature checks of counts per second, burst the same (the fleet's own need: nodes / 2 s). */
export const VERIFICATIONS_PER_S = 200;

export const COUNTS_REJECT_REASONS = ["malformed", "wrong_subject", "unsigned", "bad_signature", "stale", "replayed", "too_many_nodes", "rate_limited"] as const;
export type CountsRejectReason = (typeof COUNTS_REJECT_REASONS)[number];

export type CountsVerdict = { ok: true; counts: CountsMessage } | { ok: false; reason: CountsRejectReason };

export interface CountsGateOptions {
  /** Public keys a signature may verify against; undefined: unsigned mode (no signature checked). */
  keys: readonly KeyObject[] | undefined;
  windowMs?: number;
  maxNodes?: number;
  /** Signature checks per second (and burst). */
  verificationsPerS?: number;
  now?: () => number;
}

export class CountsGate {
  /** Per node: the `at` of its last accepted message (kept for the window, goodbyes included). */
  readonly #lastAt = new Map<string, number>();
  readonly #windowMs: number;
  readonly #maxNodes: number;
  readonly #now: () => number;
  readonly #verificationsPerS: number;
  #tokens: number;
  #refilledAt: number;
  #prunedAt = 0;

  constructor(private readonly options: CountsGateOptions) {
    this.#windowMs = options.windowMs ?? COUNTS_WINDOW_MS;
    this.#maxNodes = options.maxNodes ?? MAX_NODES;
    this.#now = options.now ?? Date.now;
    this.#verificationsPerS = options.verificationsPerS ?? VERIFICATIONS_PER_S;
    this.#tokens = this.#verificationsPerS;
    this.#refilledAt = this.#now();
  }

  get signed(): boolean {
    return this.options.keys !== undefined;
  }

  /** The verdict on one message: `subject` as received, `data` its exact bytes, `signature` the header. */
  check(subject: string, data: Uint8Array, signature: string | undefined): CountsVerdict {
    const counts = parseCounts(data);
    if (counts === undefined) return { ok: false, reason: "malformed" };
    if (subject !== `${FLEET_SUBJECTS.counts}.${counts.node}`) return { ok: false, reason: "wrong_subject" };
    const keys = this.options.keys;
    if (keys !== undefined && signature === undefined) return { ok: false, reason: "unsigned" };
    // The cheap checks first: a flood of junk costs a JSON parse each, not a signature check.
    const now = this.#now();
    if (Math.abs(now - counts.at) > this.#windowMs) return { ok: false, reason: "stale" };
    this.#prune(now);
    const last = this.#lastAt.get(counts.node);
    if (last !== undefined && counts.at <= last) return { ok: false, reason: "replayed" };
    if (last === undefined && this.#lastAt.size >= this.#maxNodes) return { ok: false, reason: "too_many_nodes" };
    if (keys !== undefined) {
      if (!this.#spendVerification(now)) return { ok: false, reason: "rate_limited" };
      if (!verifyFleet(keys, countsContext(subject), data, signature)) return { ok: false, reason: "bad_signature" };
    }
    this.#lastAt.set(counts.node, counts.at);
    return { ok: true, counts };
  }

  /**
   * A token bucket of signature checks (VERIFICATIONS_PER_S, burst the same): a flood of signed
   * junk cannot take the node's CPU. The fleet needs nodes / 2 s; beyond the budget a message is
   * refused like an unverifiable one (the fail-safe: this node counts what it verified).
   */
  #spendVerification(now: number): boolean {
    const rate = this.#verificationsPerS;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Forget nodes silent for longer than the window (a message older than that is stale anyway). */
  #prune(now: number): void {
    if (now - this.#prunedAt < this.#windowMs) return;
    this.#prunedAt = now;
    for (const [node, at] of this.#lastAt) if (now - at > 2 * this.#windowMs) this.#lastAt.delete(node);
  }
}

/** Largest counts message read (a node with every tenant quota'd stays far below it). */
const MAX_COUNTS_BYTES = 256 * 1024;

/** Counts from another node; undefined when malformed (ignored). */
export function parseCounts(data: Uint8Array): CountsMessage | undefined {
  if (data.length > MAX_COUNTS_BYTES) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<CountsMessage>;
    if (typeof v.node !== "string" || v.node.length === 0 || v.node.length > 64) return undefined;
    if (typeof v.at !== "number" || !Number.isSafeInteger(v.at) || typeof v.tenants !== "object" || v.tenants === null) return undefined;
    const tenants: Record<string, number> = {};
    for (const [t, n] of Object.entries(v.tenants)) if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0) tenants[t] = n;
    return { node: v.node, at: v.at, tenants, ...(v.bye === true ? { bye: true } : {}) };
  } catch {
    return undefined;
  }
}

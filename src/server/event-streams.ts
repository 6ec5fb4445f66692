/**
 * The node's SSE streams and their delivery: uWS topics serve WebSockets only, so the
 * TopicPublisher hands every event to this as well (its `streams` consumer). The SSE frame is
 * built and UTF-8 encoded once per event (never per stream), then queued for the fair fan-out
 * (stream-fanout.ts), which writes it to each live stream of that topic (a map topic -> streams:
 * the loop is over that topic's streams only) whose filter lets it through, in slices that take
 * turns across tenants and yield to the event loop. Streams per tenant are capped
 * (MAX_SSE_STREAMS_PER_TENANT, checked by the route).
 *
 * Its timers, like Upkeep's for sockets: the `event: ping` heartbeat, and a sweep that ends
 * streams whose token expired (4419) or that passed MAX_LIFETIME_S; slow consumers end at write
 * time (event-stream.ts). And the drain: every stream ends with 1001, spread over the window.
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import type { StreamEpochs } from "../bus/stream-watch.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Credential } from "../protocol/credential.js";
import { Refusals, type Refusal } from "../protocol/refusal.js";
import { SSE_PING_FRAME, sseEvent } from "../protocol/sse-frames.js";
import { closeSpread } from "./spread-close.js";
import type { EventStream } from "./event-stream.js";
import { StreamFanout } from "./stream-fanout.js";
import type { TopicStreams } from "./topic-publisher.js";

/** The heartbeat, encoded once. */
const PING = Buffer.from(SSE_PING_FRAME);

export class EventStreams implements TopicStreams {
  readonly #all = new Set<EventStream>();
  readonly #byTopic = new Map<string, Set<EventStream>>();
  readonly #perTenant = new Map<string, number>();
  readonly #fanout: StreamFanout<EventStream>;
  /** The last event encoded: an event reaches several feed topics (app, tenant, admin), encoded once. */
  #encoded: { decoded: DecodedEvent; frame: Buffer } | undefined;

  constructor(
    /** The streams' incarnations for `id:` lines (none on the direct path). */
    private readonly stream: Pick<StreamEpochs, "epoch" | "epochOfTenant">,
    private readonly config: Pick<Config, "pingIntervalMs" | "maxLifetimeS">,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.#fanout = new StreamFanout<EventStream>({
      delivered: (tenantId, n) => this.metrics.delivered(tenantId, n),
      overflow: (tenantId, topics) => {
        this.log.warn({ tenantId, topics: topics.size }, "sse fan-out backlog over its bound: the tenant's streams end (4429) and resume");
        for (const topic of topics) this.closeTopic(topic, Refusals.slowConsumer);
      },
    });
  }

  /** SSE streams this tenant holds on this node (MAX_SSE_STREAMS_PER_TENANT). */
  ofTenant(tenantId: string): number {
    return this.#perTenant.get(tenantId) ?? 0;
  }

  /** Events waiting for the fan-out (all tenants). */
  get pending(): number {
    return this.#fanout.pending;
  }

  get count(): number {
    return this.#all.size;
  }

  get epoch(): string | undefined {
    return this.stream.epoch;
  }

  /** The epoch of the stream a tenant's events are stored in (its partition's). */
  epochOfTenant(tenantId: string): string | undefined {
    return this.stream.epochOfTenant(tenantId);
  }

  add(stream: EventStream): void {
    this.#all.add(stream);
    const tenantId = tenantOf(stream);
    if (tenantId !== undefined) this.#perTenant.set(tenantId, this.ofTenant(tenantId) + 1);
    this.metrics.sseStreams.set(this.#all.size);
  }

  /** The stream ended: it leaves every set (called from its `ended` callback). */
  delete(stream: EventStream): void {
    if (!this.#all.delete(stream)) return;
    const tenantId = tenantOf(stream);
    if (tenantId !== undefined) {
      const n = this.ofTenant(tenantId) - 1;
      if (n > 0) this.#perTenant.set(tenantId, n);
      else this.#perTenant.delete(tenantId);
    }
    for (const feed of stream.info.feeds) {
      const set = this.#byTopic.get(feed.topic);
      if (set === undefined) continue;
      set.delete(stream);
      if (set.size === 0) this.#byTopic.delete(feed.topic);
    }
    this.metrics.sseStreams.set(this.#all.size);
  }

  /** From now on the stream receives its topics' live events (after any replay was written). */
  goLive(stream: EventStream): void {
    if (stream.closed) return;
    stream.state = "live";
    stream.liveFrom = this.#fanout.current;
    for (const feed of stream.info.feeds) {
      let set = this.#byTopic.get(feed.topic);
      if (set === undefined) this.#byTopic.set(feed.topic, (set = new Set()));
      set.add(stream);
    }
  }

  observe(topic: string, decoded: DecodedEvent): void {
    const streams = this.#byTopic.get(topic);
    if (streams === undefined) return;
    if (this.#encoded?.decoded !== decoded) {
      const text = sseEvent(this.stream.epochOfTenant(decoded.tenantId), decoded.event.type, decoded.event.seq, decoded.frame);
      this.#encoded = { decoded, frame: Buffer.from(text) };
    }
    this.#fanout.enqueue(decoded.tenantId, topic, streams, this.#encoded.frame, decoded.event);
  }

  /** Events of the topic were lost: end its streams so their clients resume. */
  closeTopic(topic: string, refusal: Refusal): void {
    const streams = this.#byTopic.get(topic);
    if (streams === undefined) return;
    for (const s of [...streams]) s.close(refusal);
  }

  revokeKey(hash: string): number {
    return this.refuseWhere((c) => c.kind === "key" && c.hash === hash, Refusals.revoked);
  }

  revokeSigner(kid: string): number {
    return this.refuseWhere((c) => c.kind === "token" && c.kid === kid, Refusals.tokenRevoked);
  }

  revokeToken(jti: string): number {
    return this.refuseWhere((c) => c.kind === "token" && c.jti === jti, Refusals.tokenRevoked);
  }

  /** End every stream whose credential matches (a scan: revocations are rare). */
  refuseWhere(matches: (c: Credential) => boolean, refusal: Refusal): number {
    let n = 0;
    for (const s of [...this.#all]) {
      if (!matches(s.info.credential)) continue;
      s.close(refusal);
      n++;
    }
    if (n > 0) this.metrics.auth.inc({ outcome: refusal === Refusals.revoked ? "revoked" : "token_revoked" }, n);
    return n;
  }

  /** End every stream with 1001, spread evenly over windowMs (Upkeep's drain, with the sockets). */
  closeAllSpread(windowMs: number): Promise<void> {
    return closeSpread([...this.#all], windowMs, (s) => s.close(Refusals.shuttingDown));
  }

  /** The heartbeat (called by Upkeep with the sockets' one). */
  ping(): void {
    for (const s of this.#all) if (s.state === "live" || s.state === "replaying") s.write(PING);
  }

  /** Token expiry (within one sweep of exp) and the lifetime cap (called by Upkeep's sweep). */
  sweep(now: number): void {
    const lifetimeMs = this.config.maxLifetimeS * 1000;
    for (const s of [...this.#all]) {
      const credential = s.info.credential;
      if (credential.kind === "token" && now >= credential.expMs) {
        this.metrics.auth.inc({ outcome: "token_expired" });
        this.log.debug({ stream: s.info.id }, "sse stream token expired");
        s.close(Refusals.tokenExpired);
      } else if (lifetimeMs > 0 && now - s.info.openedAt > lifetimeMs) {
        s.close(Refusals.maxLifetime);
      }
    }
  }
}

function tenantOf(stream: EventStream): string | undefined {
  return stream.info.scope.role === "app" ? stream.info.scope.tenantId : undefined;
}

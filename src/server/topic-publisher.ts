/**
 * The socket end of the delivery line: one decoded event -> one uWS topic publish for every
 * socket on the topic, no loop over sockets. It runs from the NATS callback (outside any uWS
 * handler), where uWS batches the writes.
 */
import type { TemplatedApp } from "uWebSockets.js";
import type { DecodedEvent } from "../bus/event-decoder.js";
import type { FeedSink } from "../bus/feed-sink.js";
import type { Metrics } from "../metrics/metrics.js";
import type { DeliveryCounters } from "./delivery-counters.js";
import { Refusals } from "../protocol/refusal.js";
import { derivedTopicsOf, type FamiliesInUse } from "../scope/filter-topics.js";
import type { Feed } from "../scope/scope.js";

/** Sees every event handed to a topic (resume holds them for sockets still replaying). */
export interface TopicObserver {
  observe(topic: string, decoded: DecodedEvent): void;
}

/** Closes the sockets of a topic whose events were lost, so their clients resume. */
export interface TopicSockets {
  closeTopic(topic: string, refusal: typeof Refusals.resync): void;
  /** Derived topics in use by filtered sockets (src/scope/filter-topics.ts), by feed topic. */
  readonly derived: { families(feedTopic: string): FamiliesInUse | undefined };
}

/**
 * Stream transports (SSE), which uWS topics do not reach: handed every event of a topic, and told
 * when a topic's events were lost (src/server/event-streams.ts).
 */
export interface TopicStreams {
  observe(topic: string, decoded: DecodedEvent): void;
  closeTopic(topic: string, refusal: typeof Refusals.resync): void;
}

export class TopicPublisher implements FeedSink {
  constructor(
    private readonly app: TemplatedApp,
    private readonly observer: TopicObserver | undefined,
    private readonly sockets: TopicSockets,
    private readonly metrics: Metrics,
    /** Per-topic publish counts (the fleet view's `delivered`) and stream transports (SSE). */
    private readonly extra: { counters?: DeliveryCounters; streams?: TopicStreams } = {},
  ) {}

  event(feed: Feed, decoded: DecodedEvent): void {
    this.observer?.observe(feed.topic, decoded);
    this.extra.streams?.observe(feed.topic, decoded);
    let sockets = this.app.numSubscribers(feed.topic);
    if (sockets > 0) this.app.publish(feed.topic, decoded.frame, false, false);
    // Filtered sockets: the same frame to the feed's derived topics that have subscribers, only
    // for the families in use on this feed (one map lookup when there are none).
    const families = this.sockets.derived.families(feed.topic);
    if (families !== undefined) sockets += this.#publishDerived(feed.topic, families, decoded);
    if (sockets === 0) return;
    this.metrics.delivered(decoded.tenantId, sockets);
    this.extra.counters?.published(feed.topic, decoded.tenantId, sockets);
    if (!Number.isNaN(decoded.sentAt)) this.metrics.fanoutLatency.observe(Math.max(0, Date.now() - decoded.sentAt) / 1000);
  }

  #publishDerived(feedTopic: string, families: FamiliesInUse, decoded: DecodedEvent): number {
    let sockets = 0;
    for (const topic of derivedTopicsOf(feedTopic, decoded.event, families)) {
      const n = this.app.numSubscribers(topic);
      if (n === 0) continue;
      this.app.publish(topic, decoded.frame, false, false);
      sockets += n;
    }
    return sockets;
  }

  /** Nothing to do: sequences matter to gap repair, upstream. */
  skipped(): void {}

  lost(feed: Feed): void {
    this.sockets.closeTopic(feed.topic, Refusals.resync);
    this.extra.streams?.closeTopic(feed.topic, Refusals.resync);
  }

  ended(feed: Feed): void {
    this.extra.counters?.forget(feed.topic);
  }
}

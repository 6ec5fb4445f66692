/**
 * The socket end of the delivery line: one decoded event -> one uWS topic publish for every
 * socket on the topic, no loop over sockets. It runs from the NATS callback (outside any uWS
 * handler), where uWS batches the writes.
 */
import type { TemplatedApp } from "uWebSockets.js";
import type { DecodedEvent } from "../bus/event-decoder.js";
import type { FeedSink } from "../bus/feed-sink.js";
import type { Metrics } from "../metrics/metrics.js";
import { Refusals } from "../protocol/refusal.js";
import type { Feed } from "../scope/scope.js";

/** Sees every event handed to a topic (resume holds them for sockets still replaying). */
export interface TopicObserver {
  observe(topic: string, decoded: DecodedEvent): void;
}

/** Closes the sockets of a topic whose events were lost, so their clients resume. */
export interface TopicSockets {
  closeTopic(topic: string, refusal: typeof Refusals.resync): void;
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
    private readonly streams?: TopicStreams,
  ) {}

  event(feed: Feed, decoded: DecodedEvent): void {
    this.observer?.observe(feed.topic, decoded);
    this.streams?.observe(feed.topic, decoded);
    const sockets = this.app.numSubscribers(feed.topic);
    if (sockets === 0) return;
    this.app.publish(feed.topic, decoded.frame, false, false);
    this.metrics.delivered(decoded.tenantId, sockets);
    if (!Number.isNaN(decoded.sentAt)) this.metrics.fanoutLatency.observe(Math.max(0, Date.now() - decoded.sentAt) / 1000);
  }

  /** Nothing to do: sequences matter to gap repair, upstream. */
  skipped(): void {}

  lost(feed: Feed): void {
    this.sockets.closeTopic(feed.topic, Refusals.resync);
    this.streams?.closeTopic(feed.topic, Refusals.resync);
  }

  ended(): void {}
}

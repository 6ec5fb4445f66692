/**
 * The one interface along the delivery line. Each stage receives a feed's events through it and
 * passes on, to the next stage's FeedSink, what it does not consume:
 *
 *   FeedSubscriber (bus) -> FeedContinuity (resume, durable path only) -> TopicPublisher (server)
 */
import type { Feed } from "./feed.js";
import type { DecodedEvent } from "./event-decoder.js";

export interface FeedSink {
  /**
   * A valid live event of the feed. `lastSequence` is the stream's Nats-Last-Sequence header (the
   * previous stored event on the same subject) when the event came from the stream; `stream` its
   * Nats-Stream header (which stream stored it: a partition's with STREAM_PARTITIONS > 1).
   */
  event(feed: Feed, decoded: DecodedEvent, lastSequence: string | undefined, stream?: string): void;
  /** A stored event on `subject` failed validation: its sequence is used up all the same. */
  skipped(feed: Feed, subject: string, seq: number): void;
  /** Events of the feed were lost for good: the feed's clients must resync (resume). */
  lost(feed: Feed): void;
  /** The feed's subscription ended: forget what was kept for it. */
  ended(feed: Feed): void;
}

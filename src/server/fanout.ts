/**
 * The hot path: NATS message -> one decode -> one uWS topic publish. No loop over sockets, and
 * app.publish runs from the NATS callback (outside any uWS handler), where uWS batches the writes.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { TemplatedApp } from "uWebSockets.js";
import { decodeBusEvent, parseSequence, type DecodedEvent } from "../bus/event-decoder.js";
import type { FeedTransport } from "../bus/feed-registry.js";
import { InvalidEventError } from "../errors.js";
import { kindOfType } from "../events/event.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Feed } from "../scope/scope.js";

export interface FanoutHooks {
  /** Gap repair: decides when (and whether) a live event is published; absent on the direct path. */
  continuity?: {
    accept(feed: Feed, decoded: DecodedEvent, lastSeqHeader: string | undefined): void;
    skipped(feed: Feed, subject: string, seq: number): void;
  };
  /** Resume: sees every event handed to a topic, to hold it for sockets still replaying. */
  replayer?: { observe(topic: string, decoded: DecodedEvent): void };
}

export class Fanout implements FeedTransport {
  // A node with an admin socket and app sockets holds overlapping subscriptions and gets the same
  // durable event twice in a row; remember the last decode so it is transcoded once.
  #lastSeq = 0;
  #lastDecoded: DecodedEvent | undefined;
  hooks: FanoutHooks = {};

  constructor(
    private readonly app: TemplatedApp,
    private readonly nc: NatsConnection,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Called when a feed's subscription ends. */
  onUnsubscribe: (feed: Feed) => void = () => {};

  subscribe(feed: Feed): () => void {
    const sub = this.nc.subscribe(feed.subject, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn({ err, subject: feed.subject }, "subscription error");
          return;
        }
        this.onMessage(feed, msg);
      },
    });
    return () => {
      sub.unsubscribe();
      this.onUnsubscribe(feed);
    };
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  onMessage(feed: Feed, msg: Msg): void {
    const decoded = this.decode(msg);
    if (decoded === undefined) {
      const seq = parseSequence(msg.headers?.get("Nats-Sequence"));
      if (seq !== undefined) this.hooks.continuity?.skipped(feed, msg.subject, seq);
      return;
    }
    const continuity = this.hooks.continuity;
    if (continuity !== undefined && decoded.event.seq !== undefined) {
      continuity.accept(feed, decoded, msg.headers?.get("Nats-Last-Sequence"));
    } else {
      this.publish(feed.topic, decoded);
    }
  }

  /** Hand one decoded event to uWS for every socket on the topic, and account for it. */
  publish(topic: string, decoded: DecodedEvent): void {
    this.hooks.replayer?.observe(topic, decoded);
    const sockets = this.app.numSubscribers(topic);
    if (sockets === 0) return;
    this.app.publish(topic, decoded.frame, false, false);
    this.metrics.delivered(decoded.tenantId, sockets);
    if (!Number.isNaN(decoded.sentAt)) this.metrics.fanoutLatency.observe(Math.max(0, Date.now() - decoded.sentAt) / 1000);
  }

  decode(msg: Msg): DecodedEvent | undefined {
    const seq = parseSequence(msg.headers?.get("Nats-Sequence"));
    const last = this.#lastDecoded;
    if (seq !== undefined && seq === this.#lastSeq && last !== undefined && last.subject === msg.subject) return last;
    try {
      const decoded = decodeBusEvent(msg.subject, msg.data, seq);
      this.metrics.received(kindOfType[decoded.event.type]);
      if (seq !== undefined) {
        this.#lastSeq = seq;
        this.#lastDecoded = decoded;
      }
      return decoded;
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      this.metrics.eventsRejected.inc({ reason: err.reason });
      this.log.debug({ subject: msg.subject, reason: err.reason, err: err.message }, "bus event rejected");
      return undefined;
    }
  }
}

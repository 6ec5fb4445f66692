/**
 * The bus end of the delivery line: one NATS subscription per feed, each message decoded once
 * (MessagePack -> checked event -> JSON frame) and handed to the sink. Bad payloads are counted
 * and dropped here; a bad stored payload still reports its sequence (FeedSink.skipped).
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { InvalidEventError } from "../errors.js";
import { kindOfType } from "../events/event.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Feed } from "./feed.js";
import { Headers } from "./contract.js";
import { decodeBusEvent, parseSequence, type DecodedEvent } from "./event-decoder.js";
import type { FeedTransport } from "./feed-registry.js";
import type { FeedSink } from "./feed-sink.js";

export class FeedSubscriber implements FeedTransport {
  // A node with an admin socket and app sockets holds overlapping subscriptions and gets the same
  // durable event twice in a row; remember the last decode so it is transcoded once.
  #lastSeq = 0;
  #lastDecoded: DecodedEvent | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly sink: FeedSink,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  subscribe(feed: Feed): () => void {
    const sub = this.nc.subscribe(feed.subject, {
      callback: (err, msg) => {
        if (err) {
          this.log.warn({ err, subject: feed.subject }, "subscription error");
          return;
        }
        this.#onMessage(feed, msg);
      },
    });
    return () => {
      sub.unsubscribe();
      this.sink.ended(feed);
    };
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  #onMessage(feed: Feed, msg: Msg): void {
    const seq = parseSequence(msg.headers?.get(Headers.sequence));
    const decoded = this.#decode(msg, seq);
    if (decoded === undefined) {
      if (seq !== undefined) this.sink.skipped(feed, msg.subject, seq);
      return;
    }
    if (seq === undefined) this.sink.event(feed, decoded, undefined);
    else this.sink.event(feed, decoded, msg.headers?.get(Headers.lastSequence), msg.headers?.get(Headers.stream));
  }

  #decode(msg: Msg, seq: number | undefined): DecodedEvent | undefined {
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

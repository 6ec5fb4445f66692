/**
 * Gap repair: a node that missed live events (a NATS reconnect, a cluster failover) fetches them
 * from the stream and delivers them before anything newer on the same feed.
 *
 * Per feed it keeps the last sequence delivered; per live subject, the last sequence seen, which
 * the next event's Nats-Last-Sequence header must equal. When it does not, or after a reconnect,
 * the feed is put on hold: new events queue behind a read of the stream above the feed's mark,
 * then the queue drains. Events at or below the mark are duplicates and are dropped. Events of the
 * direct path carry no sequence and pass straight through.
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Feed } from "../scope/scope.js";
import type { StreamReader } from "./stream-reader.js";

interface FeedState {
  feed: Feed;
  /** Highest seq delivered on this feed. */
  mark: number;
  /** Events waiting behind a repair, or undefined when the feed is flowing. */
  queue: DecodedEvent[] | undefined;
}

export type Deliver = (feed: Feed, decoded: DecodedEvent) => void;

export class FeedContinuity {
  readonly #feeds = new Map<string, FeedState>();
  /** Last seq seen per live subject (keyed by feed topic + subject: feeds overlap). */
  readonly #subjects = new Map<string, number>();

  constructor(
    private readonly reader: StreamReader,
    private readonly deliver: Deliver,
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Hot path: decide for one live event. */
  accept(feed: Feed, decoded: DecodedEvent, lastSeqHeader: string | undefined): void {
    const seq = decoded.event.seq;
    let state = this.#feeds.get(feed.topic);
    if (seq === undefined) {
      if (state?.queue !== undefined) state.queue.push(decoded);
      else this.deliver(feed, decoded);
      return;
    }
    if (state === undefined) {
      state = { feed, mark: 0, queue: undefined };
      this.#feeds.set(feed.topic, state);
    }
    if (state.queue !== undefined) {
      state.queue.push(decoded);
      return;
    }
    if (seq <= state.mark) return; // already delivered (by a repair)
    const subject = decoded.subject;
    const subjectKey = `${feed.topic} ${subject}`;
    const previous = this.#subjects.get(subjectKey);
    this.#subjects.set(subjectKey, seq);
    const expected = lastSeqHeader === undefined ? undefined : Number(lastSeqHeader);
    if (previous !== undefined && expected !== undefined && expected > previous && state.mark > 0) {
      state.queue = [decoded];
      this.#repair(state, `gap on ${subject}: expected ${expected}, last seen ${previous}`);
      return;
    }
    state.mark = seq;
    this.deliver(feed, decoded);
  }

  /** After a NATS reconnect: anything may have been missed on every feed with a mark. */
  repairAll(reason: string): void {
    for (const state of this.#feeds.values()) {
      if (state.queue === undefined && state.mark > 0) {
        state.queue = [];
        this.#repair(state, reason);
      }
    }
  }

  /** The feed was unsubscribed: forget it (a new subscription starts fresh). */
  forget(feed: Feed): void {
    this.#feeds.delete(feed.topic);
    const prefix = `${feed.topic} `;
    for (const key of this.#subjects.keys()) if (key.startsWith(prefix)) this.#subjects.delete(key);
  }

  #repair(state: FeedState, reason: string): void {
    const from = state.mark;
    this.log.info({ feed: state.feed.subject, from, reason }, "repairing feed from the stream");
    this.reader
      .read([state.feed.subject], from, this.config.resumeMaxEvents)
      .then((result) => {
        if (result.type === "limit") {
          this.metrics.gapsUnrecoverable.inc();
          this.log.warn({ feed: state.feed.subject, pending: result.pending }, "gap too large to repair");
          return;
        }
        let repaired = 0;
        for (const e of result.events) {
          if ((e.event.seq as number) > state.mark) {
            this.#deliverMarked(state, e);
            repaired++;
          }
        }
        this.metrics.gapRepairs.inc(repaired);
      })
      .catch((err: unknown) => {
        this.metrics.gapsUnrecoverable.inc();
        this.log.warn({ err, feed: state.feed.subject }, "gap repair failed");
      })
      .finally(() => this.#drain(state));
  }

  #drain(state: FeedState): void {
    const queued = state.queue ?? [];
    state.queue = undefined;
    if (this.#feeds.get(state.feed.topic) !== state) return; // forgotten meanwhile
    for (const e of queued) {
      const seq = e.event.seq;
      if (seq === undefined) this.deliver(state.feed, e);
      else if (seq > state.mark) this.#deliverMarked(state, e);
    }
  }

  #deliverMarked(state: FeedState, e: DecodedEvent): void {
    state.mark = e.event.seq as number;
    this.#subjects.set(`${state.feed.topic} ${e.subject}`, state.mark);
    this.deliver(state.feed, e);
  }
}

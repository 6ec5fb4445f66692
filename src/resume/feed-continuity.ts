/**
 * Gap repair: a node that missed live events (a NATS reconnect, a cluster failover) fetches them
 * from the stream and delivers them before anything newer on the same feed.
 *
 * Per feed it keeps the last sequence delivered; per live subject, the last sequence seen, which
 * the next event's Nats-Last-Sequence header must equal. When it does not, or after a reconnect,
 * the feed is put on hold: new events queue behind a read of the stream above the feed's mark,
 * then the queue drains. Live copies of events the repair already delivered are dropped (by exact
 * sequence, not by watermark: a producer that forges a huge Nats-Sequence on the direct path must
 * not make the node drop the real events after it). Events of the direct path carry no sequence
 * and pass straight through.
 *
 * The mark a repair reads from is checked against the stream's last sequence first; a mark from
 * the future (forged) falls back to the newest recent sequence that the stream can have issued.
 *
 * Partitions (STREAM_PARTITIONS=K > 1, docs/partitioning.md): sequences are per partition stream,
 * so the marks are per (feed, partition): an app feed lives in its tenant's partition, the admin
 * feed `sms.>` has one mark per partition. The stream an event came from is the Nats-Stream header
 * RePublish adds; an event from a stream other than its tenant's (a producer that published straight
 * into another partition's subject, or the old single stream during a migration) is dropped and
 * counted (`foreign_stream`): a client must never get a sequence it cannot resume from.
 *
 * A stage of the delivery line (src/bus/feed-sink.ts): it receives the subscriber's events and
 * passes them on, in order and repaired, to the next sink; a gap it cannot repair is passed on as
 * `lost`, so the feed's clients resume.
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import { STREAM_NAME } from "../bus/contract.js";
import type { FeedSink } from "../bus/feed-sink.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Feed } from "../scope/scope.js";
import type { PartitionedReaders } from "./replayer.js";
import type { StreamReader } from "./stream-reader.js";

type Reader = Pick<StreamReader, "read" | "lastSequence">;

interface FeedState {
  feed: Feed;
  /** The stream this state's sequences are in (the feed's, or one partition's for the admin feed). */
  reader: Reader;
  /** Highest seq delivered on this feed. */
  mark: number;
  /** The last RECENT seqs delivered (ring), to fall back on when the mark is not credible. */
  recent: number[];
  recentAt: number;
  /** Live events waiting behind a repair (with their Nats-Last-Sequence), or undefined when flowing. */
  queue: Queued[] | undefined;
  /** Its key in #feeds, and its partition (undefined with a single stream). */
  key: string;
  partition: number | undefined;
  /** When the current repair began (it is retried until it succeeds or gives up). */
  repairSince: number;
  /**
   * A sequence the stream is known to hold on this feed (the Nats-Last-Sequence that revealed a
   * gap). A repair whose read stops short of it read from a replica or leader still catching up
   * (a leader change): it is incomplete, and is retried.
   */
  mustReach: number;
  /** Seqs the last repair delivered: their live copies, still in flight, are dropped. */
  repaired: Set<number>;
  repairedMax: number;
}

const RECENT = 32;
/** A repair that keeps failing (stream leader election, outage) is retried this long. */
const REPAIR_GIVE_UP_MS = 60_000;

interface Queued {
  decoded: DecodedEvent;
  lastSeq: string | undefined;
}

export class FeedContinuity implements FeedSink {
  readonly #feeds = new Map<string, FeedState>();
  /** Last seq seen per live subject (keyed by feed topic + subject: feeds overlap). */
  readonly #subjects = new Map<string, number>();

  constructor(
    private readonly reader: Reader,
    private readonly next: FeedSink,
    private readonly config: Pick<Config, "resumeMaxEvents">,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly partitioned?: PartitionedReaders<Reader>,
  ) {}

  /** Hot path: decide for one live event. Events of the direct path (no seq) pass straight on. */
  event(feed: Feed, decoded: DecodedEvent, lastSeqHeader: string | undefined, stream?: string): void {
    const seq = decoded.event.seq;
    if (seq === undefined) {
      this.next.event(feed, decoded, undefined);
      return;
    }
    const partitions = this.partitioned?.partitions;
    const p = partitions === undefined ? undefined : partitions.ofTenant(decoded.tenantId);
    if (stream !== undefined && stream !== (p === undefined ? STREAM_NAME : p.stream)) {
      this.metrics.eventsRejected.inc({ reason: "foreign_stream" });
      return;
    }
    this.#accept(feed, decoded, seq, lastSeqHeader, p === undefined || p.count === 1 ? undefined : p.index);
  }

  /** A feed's state key: its topic, and its partition when there are several. */
  #key(topic: string, partition: number | undefined): string {
    return partition === undefined ? topic : `${topic}|${partition}`;
  }

  #accept(feed: Feed, decoded: DecodedEvent, seq: number, lastSeqHeader: string | undefined, partition: number | undefined): void {
    const key = this.#key(feed.topic, partition);
    let state = this.#feeds.get(key);
    if (state === undefined) {
      const reader = partition === undefined ? this.reader : (this.partitioned?.readers[partition] ?? this.reader);
      state = { feed, reader, key, partition, mark: 0, recent: [], recentAt: 0, queue: undefined, repairSince: 0, mustReach: 0, repaired: new Set(), repairedMax: 0 };
      this.#feeds.set(key, state);
    }
    if (state.queue !== undefined) {
      state.queue.push({ decoded, lastSeq: lastSeqHeader });
      return;
    }
    if (state.repairedMax > 0) {
      if (state.repaired.delete(seq)) return; // its copy was delivered by the repair
      if (seq > state.repairedMax) this.#forgetRepaired(state);
    }
    const subject = decoded.subject;
    const subjectKey = `${feed.topic} ${subject}`;
    const previous = this.#subjects.get(subjectKey);
    this.#subjects.set(subjectKey, seq);
    const expected = lastSeqHeader === undefined ? undefined : Number(lastSeqHeader);
    if (previous !== undefined && expected !== undefined && expected > previous && state.mark > 0) {
      state.queue = [{ decoded, lastSeq: lastSeqHeader }];
      state.mustReach = Math.max(state.mustReach, expected);
      this.#startRepair(state, `gap on ${subject}: expected ${expected}, last seen ${previous}`);
      return;
    }
    this.#delivered(state, decoded);
  }

  /**
   * A stored event the node rejected (bad payload) still used a sequence on its subject: note it,
   * so the next event's Nats-Last-Sequence does not look like a gap.
   */
  skipped(feed: Feed, subject: string, seq: number): void {
    const key = `${feed.topic} ${subject}`;
    const tenant = subject.split(".")[1] ?? "";
    const partitions = this.partitioned?.partitions;
    const partition = partitions === undefined || !partitions.partitioned ? undefined : partitions.ofTenant(tenant).index;
    if (this.#feeds.has(this.#key(feed.topic, partition)) && seq > (this.#subjects.get(key) ?? 0)) this.#subjects.set(key, seq);
  }

  /** After a NATS reconnect: anything may have been missed on every feed with a mark. */
  repairAll(reason: string): void {
    for (const state of this.#feeds.values()) {
      if (state.queue === undefined && state.mark > 0) {
        state.queue = [];
        this.#startRepair(state, reason);
      }
    }
  }

  /** Passed on as is: nothing upstream of this stage reports losses. */
  lost(feed: Feed): void {
    this.next.lost(feed);
  }

  /** The feed was unsubscribed: forget it (a new subscription starts fresh). */
  ended(feed: Feed): void {
    this.#feeds.delete(feed.topic);
    const partitions = this.partitioned?.partitions;
    if (partitions !== undefined && partitions.partitioned) for (const p of partitions.all) this.#feeds.delete(this.#key(feed.topic, p.index));
    const prefix = `${feed.topic} `;
    for (const key of this.#subjects.keys()) if (key.startsWith(prefix)) this.#subjects.delete(key);
    this.next.ended(feed);
  }

  #startRepair(state: FeedState, reason: string): void {
    state.repairSince = Date.now();
    this.#repair(state, reason, 0);
  }

  #repair(state: FeedState, reason: string, attempt: number): void {
    if (this.#feeds.get(state.key) !== state) return; // unsubscribed meanwhile
    this.#forgetRepaired(state);
    this.#repairFrom(state)
      .then(async ({ from, last }) => {
        this.log.info({ feed: state.feed.subject, from, reason, attempt }, "repairing feed from the stream");
        const result = await state.reader.read([state.feed.subject], from, this.config.resumeMaxEvents);
        if (result.type === "limit") return this.#abandon(state, `${result.pending} events missed: over RESUME_MAX_EVENTS`);
        // A target beyond the stream's end came from a forged header: it cannot be waited for.
        const target = state.mustReach <= last ? state.mustReach : 0;
        const reached = result.through;
        if (reached < target) throw new Error(`stream read reached ${reached}, but it holds ${target}: not caught up yet`);
        state.mustReach = 0;
        for (const e of result.events) {
          const seq = e.event.seq as number;
          state.repaired.add(seq);
          if (seq > state.repairedMax) state.repairedMax = seq;
        }
        // Deliver what the feed has not delivered yet: everything above the mark we read from.
        let repaired = 0;
        for (const e of result.events) {
          if ((e.event.seq as number) > from) {
            this.#deliverCatchingUp(state, e);
            repaired++;
          }
        }
        this.metrics.gapRepairs.inc(repaired);
        this.#release(state);
      })
      .catch((err: unknown) => {
        const waited = Date.now() - state.repairSince;
        if (waited > REPAIR_GIVE_UP_MS || (state.queue?.length ?? 0) > this.config.resumeMaxEvents) {
          this.#abandon(state, `stream unreadable for ${waited} ms: ${String(err)}`);
          return;
        }
        // A JetStream leader election after a failover takes seconds: keep holding and retry.
        this.log.info({ err: String(err), feed: state.feed.subject, attempt }, "gap repair incomplete; retrying");
        const timer = setTimeout(() => this.#repair(state, reason, attempt + 1), Math.min(2000, 100 * 2 ** attempt));
        timer.unref();
      });
  }

  /**
   * Give up on the gap: the feed's sockets are closed (1001) so that their clients resume, which
   * either replays what they missed or tells them to backfill. The feed starts afresh.
   */
  #abandon(state: FeedState, why: string): void {
    this.metrics.gapsUnrecoverable.inc();
    this.log.warn({ feed: state.feed.subject, why }, "gap cannot be repaired; closing the feed's sockets so they resume");
    this.next.lost(state.feed);
    const queued = state.queue ?? [];
    state.queue = undefined;
    state.mark = 0;
    state.mustReach = 0;
    this.#forgetRepaired(state);
    for (const q of queued) this.next.event(state.feed, q.decoded, undefined);
  }

  /** The mark, unless the stream cannot have issued it (forged): then the newest credible one. */
  async #repairFrom(state: FeedState): Promise<{ from: number; last: number }> {
    const last = await state.reader.lastSequence();
    if (state.mark <= last) return { from: state.mark, last };
    const credible = state.recent.filter((s) => s <= last);
    this.log.warn({ feed: state.feed.subject, mark: state.mark, streamLast: last }, "feed mark is beyond the stream: forged sequence?");
    return { from: credible.length > 0 ? Math.max(...credible) : Math.max(0, last - this.config.resumeMaxEvents), last };
  }

  /**
   * Let the held events through, each checked like a live one: a gap among them (a live copy lost
   * after the read began) starts another repair, and the rest wait behind it again.
   */
  #release(state: FeedState): void {
    const queued = state.queue ?? [];
    state.queue = undefined;
    if (this.#feeds.get(state.key) !== state) return; // unsubscribed meanwhile
    for (const q of queued) {
      const heldAgain = state.queue as Queued[] | undefined; // accept() may have started a repair
      if (heldAgain !== undefined) heldAgain.push(q);
      else this.#accept(state.feed, q.decoded, q.decoded.event.seq as number, q.lastSeq, state.partition);
    }
  }

  #delivered(state: FeedState, e: DecodedEvent): void {
    const seq = e.event.seq as number;
    if (seq > state.mark) state.mark = seq;
    state.recent[state.recentAt] = seq;
    state.recentAt = (state.recentAt + 1) % RECENT;
    this.next.event(state.feed, e, undefined);
  }

  /** Events delivered by a repair or after it also count as seen on their subject. */
  #deliverCatchingUp(state: FeedState, e: DecodedEvent): void {
    const key = `${state.feed.topic} ${e.subject}`;
    const seq = e.event.seq as number;
    if (seq > (this.#subjects.get(key) ?? 0)) this.#subjects.set(key, seq);
    this.#delivered(state, e);
  }

  #forgetRepaired(state: FeedState): void {
    state.repaired.clear();
    state.repairedMax = 0;
  }
}

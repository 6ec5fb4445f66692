/**
 * Reads stored events back from SMS_EVENTS: every event on the given live-subject filters with a
 * sequence above `afterSeq`, in sequence order, decoded exactly like live ones. Used by resume
 * (per socket, streamed in batches so a long replay never sits in memory whole) and by gap repair
 * (per feed, read whole: it is bounded by RESUME_MAX_EVENTS).
 */
import { DeliverPolicy, jetstream, type Consumer, type JetStreamClient, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { liveOfStored, storedOfLive, STREAM_NAME } from "../bus/contract.js";
import { decodeBusEvent, type DecodedEvent } from "../bus/event-decoder.js";
import { streamInfo } from "../bus/stream.js";
import { InvalidEventError } from "../errors.js";

export type ReadResult =
  /** `through`: the highest sequence fetched, counting stored events that failed validation. */
  | { type: "events"; events: DecodedEvent[]; through: number }
  | { type: "limit"; pending: number };

/** An open read: batches of decoded events in sequence order; close() releases the consumers. */
export interface StreamRead {
  readonly pending: number;
  batches(): AsyncGenerator<DecodedEvent[]>;
  /** The highest sequence fetched so far, counting stored events that failed validation. */
  readonly through: number;
  close(): Promise<void>;
}

export type OpenResult = { type: "open"; read: StreamRead } | { type: "limit"; pending: number };

const BATCH = 256;
/**
 * One fetch that takes longer is abandoned: a request on a stale connection must not hold a
 * feed (gap repair retries) or a replay slot (resume answers unavailable) forever.
 */
const FETCH_TIMEOUT_MS = 15_000;

/** A stored event as fetched: its sequence, and the event unless it failed validation. */
interface Stored {
  seq: number;
  decoded: DecodedEvent | undefined;
}

export class StreamReader {
  readonly #js: JetStreamClient;

  constructor(private readonly nc: NatsConnection) {
    this.#js = jetstream(nc);
  }

  /** The stream's info now, or null when it does not exist. */
  info(): Promise<StreamInfo | null> {
    return streamInfo(this.nc);
  }

  /** The stream's last sequence now. */
  async lastSequence(): Promise<number> {
    const info = await this.info();
    if (info === null) throw new Error(`stream ${STREAM_NAME} does not exist`);
    return info.state.last_seq;
  }

  /**
   * Start reading events on `liveFilters` with seq > afterSeq, as stored when the read starts.
   * Refuses (limit) when more than `max` are pending, before fetching any.
   */
  async open(liveFilters: readonly string[], afterSeq: number, max: number): Promise<OpenResult> {
    const consumers = await Promise.all(
      liveFilters.map((f) =>
        this.#js.consumers.get(STREAM_NAME, {
          filter_subjects: storedOfLive(f),
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: afterSeq + 1,
        }),
      ),
    );
    const close = async (): Promise<void> => void (await Promise.all(consumers.map((c) => c.delete().catch(() => false))));
    let pendings: number[];
    try {
      pendings = await Promise.all(consumers.map(async (c) => (await c.info()).num_pending));
    } catch (err) {
      await close();
      throw err;
    }
    const pending = pendings.reduce((a, b) => a + b, 0);
    if (pending > max) {
      await close();
      return { type: "limit", pending };
    }
    let through = afterSeq;
    const sources = consumers.map((c, i) => fetchAll(c, pendings[i] as number, (seq) => (through = Math.max(through, seq))));
    return {
      type: "open",
      read: {
        pending,
        batches: () => mergeBySeq(sources),
        get through() {
          return through;
        },
        close,
      },
    };
  }

  /** Everything `open` would stream, read whole (gap repair: bounded by `max`). */
  async read(liveFilters: readonly string[], afterSeq: number, max: number): Promise<ReadResult> {
    const opened = await this.open(liveFilters, afterSeq, max);
    if (opened.type === "limit") return opened;
    const { read } = opened;
    try {
      const events: DecodedEvent[] = [];
      for await (const batch of read.batches()) events.push(...batch);
      return { type: "events", events, through: read.through };
    } finally {
      await read.close();
    }
  }
}

/** The consumer's `pending` stored events, in batches of at most BATCH, invalid ones included. */
async function* fetchAll(consumer: Consumer, pending: number, fetched: (seq: number) => void): AsyncGenerator<Stored[]> {
  let remaining = pending;
  while (remaining > 0) {
    const batch = await withTimeout(fetchBatch(consumer, Math.min(BATCH, remaining), fetched), FETCH_TIMEOUT_MS);
    // A fetch that ends empty while events are still pending (a stale connection, a leader
    // change): the read is incomplete, and an incomplete read must not pass for a complete one.
    // The caller retries (gap repair) or answers resume_failed.
    if (batch.stored.length === 0) throw new Error(`stream read incomplete: ${remaining} of ${pending} events not fetched`);
    remaining = batch.last ? 0 : remaining - batch.stored.length;
    yield batch.stored;
  }
}

async function fetchBatch(consumer: Consumer, max: number, fetched: (seq: number) => void): Promise<{ stored: Stored[]; last: boolean }> {
  const stored: Stored[] = [];
  const messages = await consumer.fetch({ max_messages: max, expires: 2000 });
  for await (const m of messages) {
    fetched(m.seq);
    let decoded: DecodedEvent | undefined;
    try {
      decoded = decodeBusEvent(liveOfStored(m.subject), m.data, m.seq);
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
    }
    stored.push({ seq: m.seq, decoded });
    if (m.info.pending === 0) return { stored, last: true };
    if (stored.length >= max) break;
  }
  return { stored, last: false };
}

/**
 * Merge sources, each in sequence order, into batches in sequence order, pulling a source's next
 * batch only when its buffered events are used up (memory: one batch per source).
 */
async function* mergeBySeq(sources: AsyncGenerator<Stored[]>[]): AsyncGenerator<DecodedEvent[]> {
  const buffers: { source: AsyncGenerator<Stored[]>; items: Stored[]; at: number; done: boolean }[] = sources.map((source) => ({
    source,
    items: [],
    at: 0,
    done: false,
  }));
  for (;;) {
    for (const b of buffers) {
      if (!b.done && b.at >= b.items.length) {
        const next = await b.source.next();
        if (next.done) b.done = true;
        else {
          b.items = next.value;
          b.at = 0;
        }
      }
    }
    const live = buffers.filter((b) => b.at < b.items.length);
    if (live.length === 0) return;
    const out: DecodedEvent[] = [];
    // Take in order until one buffer runs dry (it must be refilled before anything newer goes out).
    while (live.every((b) => b.at < b.items.length || b.done)) {
      let min: (typeof buffers)[number] | undefined;
      for (const b of live) if (b.at < b.items.length && (min === undefined || (b.items[b.at] as Stored).seq < (min.items[min.at] as Stored).seq)) min = b;
      if (min === undefined) break;
      const item = min.items[min.at++] as Stored;
      if (item.decoded !== undefined) out.push(item.decoded);
    }
    yield out;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stream read timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

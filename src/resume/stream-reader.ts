/**
 * Reads stored events back from SMS_EVENTS (or one partition's stream): every event on the given live-subject filters with a
 * sequence above `afterSeq`, in sequence order, decoded exactly like live ones. Used by resume
 * (per socket, streamed in batches so a long replay never sits in memory whole) and by gap repair
 * (per feed, read whole: it is bounded by RESUME_MAX_EVENTS), and by history (HTTP pages, below).
 */
import { DeliverPolicy, jetstream, type Consumer, type JetStreamClient, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeBusEvent, type DecodedEvent } from "../bus/event-decoder.js";
import { liveOfStoredIn, partitionIndex, storedOfLiveIn, type Partition } from "../bus/partitions.js";
import { SINGLE, streamInfo } from "../bus/stream.js";
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
/** History decodes at most this many stored events before yielding to the event loop. */
const PAGE_SLICE = 64;
/**
 * One fetch that takes longer is abandoned: a request on a stale connection must not hold a
 * feed (gap repair retries) or a replay slot (resume answers unavailable) forever.
 */
const FETCH_TIMEOUT_MS = 15_000;

/** A stored event as fetched: its sequence, and the event unless it failed validation. */
export class StreamReader {
  readonly #js: JetStreamClient;

  /** Reads one partition's stream (by default the single stream SMS_EVENTS). */
  constructor(
    private readonly nc: NatsConnection,
    readonly partition: Partition = SINGLE,
  ) {
    this.#js = jetstream(nc);
  }

  /** The stream's info now, or null when it does not exist. */
  info(): Promise<StreamInfo | null> {
    return streamInfo(this.nc, this.partition.stream);
  }

  /** The stream's last sequence now. */
  async lastSequence(): Promise<number> {
    const info = await this.info();
    if (info === null) throw new Error(`stream ${this.partition.stream} does not exist`);
    return info.state.last_seq;
  }

  /**
   * Start reading events on `liveFilters` with seq > afterSeq, as stored when the read starts.
   * Refuses (limit) when more than `max` are pending, before fetching any.
   */
  async open(liveFilters: readonly string[], afterSeq: number, max: number, startTimeMs?: number): Promise<OpenResult> {
    const consumers = await this.#consumers(liveFilters, startTimeMs === undefined ? { afterSeq } : { timeMs: startTimeMs });
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
    const sources = consumers.map((c, i) => rawMessages(c, pendings[i] as number));
    const partition = this.partition;
    // Decoded in sequence order, handed out in batches of at most BATCH (the caller paces them).
    async function* batches(): AsyncGenerator<DecodedEvent[]> {
      let out: DecodedEvent[] = [];
      for await (const m of mergeRawBySeq(sources)) {
        through = Math.max(through, m.seq);
        const decoded = decodeStored(m, partition);
        if (decoded !== undefined) out.push(decoded);
        if (out.length >= BATCH) {
          yield out;
          out = [];
        }
      }
      if (out.length > 0) yield out;
    }
    return {
      type: "open",
      read: {
        pending,
        batches,
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

  // ---- history (GET /v1/events) ------------------------------------------------------------

  /**
   * One page of stored events on `liveFilters` from a position, oldest first: at most `limit`
   * events that `accept` lets through (the filter), reading at most `scanMax` stored events of
   * the filters (so a narrow filter cannot make one request read the whole stream). Events are
   * decoded one at a time as they are taken: the page never holds more than `limit` decoded
   * events. With `keep: "last"` the page keeps the newest `limit` accepted events up to
   * `throughSeq` instead of stopping at the first `limit` (the newest page, read in windows).
   */
  async page(request: PageRequest): Promise<Page> {
    const consumers = await this.#consumers(request.liveFilters, request.from);
    try {
      const pendings = await Promise.all(consumers.map(async (c) => (await c.info()).num_pending));
      const pending = pendings.reduce((a, b) => a + b, 0);
      const scanMax = Math.min(request.scanMax, pending);
      const sources = consumers.map((c, i) => rawMessages(c, Math.min(pendings[i] as number, scanMax)));
      const partition = this.partition;
      const keepLast = request.keep === "last";
      const events: DecodedEvent[] = [];
      let examined = 0;
      let lastExamined: number | undefined;
      let reachedThrough = false;
      for await (const m of mergeRawBySeq(sources)) {
        if (request.throughSeq !== undefined && m.seq > request.throughSeq) {
          reachedThrough = true;
          break;
        }
        examined++;
        lastExamined = m.seq;
        // Buffered messages iterate in microtasks: give timers and I/O (live delivery) a turn
        // every slice, so a page of 1000 events never holds the event loop in one piece.
        if (examined % PAGE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
        const decoded = decodeStored(m, partition);
        if (decoded !== undefined && request.accept(decoded)) {
          events.push(decoded);
          if (keepLast && events.length > request.limit) events.shift();
          if (!keepLast && events.length >= request.limit) break;
        }
        if (examined >= scanMax) break;
      }
      return { events, examined, lastExamined, more: !reachedThrough && examined < pending };
    } finally {
      await Promise.all(consumers.map((c) => c.delete().catch(() => false)));
    }
  }

  /**
   * The newest `limit` accepted events on `liveFilters`, oldest first. The stream is read
   * backwards in windows of sequences, each four times the last, until the page is full, the
   * stream's start is reached, or `scanMax` stored events of the filters were examined.
   */
  async newest(request: Omit<PageRequest, "from" | "keep" | "throughSeq">): Promise<DecodedEvent[]> {
    const info = await this.info();
    if (info === null) throw new Error(`stream ${this.partition.stream} does not exist`);
    const first = Math.max(1, info.state.first_seq);
    let hi = info.state.last_seq;
    let window = Math.max(4 * request.limit, NEWEST_FIRST_WINDOW);
    let scanLeft = request.scanMax;
    let newer: DecodedEvent[] = [];
    while (hi >= first && scanLeft > 0 && newer.length < request.limit) {
      const lo = Math.max(first, hi - window + 1);
      const older = await this.page({
        ...request,
        from: { afterSeq: lo - 1 },
        limit: request.limit - newer.length,
        scanMax: scanLeft,
        keep: "last",
        throughSeq: hi,
      });
      newer = older.events.concat(newer);
      scanLeft -= older.examined;
      hi = lo - 1;
      window *= 4;
    }
    return newer;
  }

  /** One ordered consumer per filter, from a sequence (exclusive) or a time (inclusive). */
  #consumers(liveFilters: readonly string[], from: StartPosition): Promise<Consumer[]> {
    const start =
      "afterSeq" in from
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.timeMs).toISOString() };
    const p = this.partition;
    return Promise.all(liveFilters.map((f) => this.#js.consumers.get(p.stream, { filter_subjects: storedOfLiveIn(p, f), ...start })));
  }
}

/** Where a read starts: after a sequence, or at the first event stored at or after a time. */
export type StartPosition = { afterSeq: number } | { timeMs: number };

export interface PageRequest {
  liveFilters: readonly string[];
  from: StartPosition;
  limit: number;
  /** Stored events of the filters read at most (accepted or not). */
  scanMax: number;
  /** The filter: whether an event (already inside the scope) goes into the page. */
  accept(decoded: DecodedEvent): boolean;
  /** "first" (default): stop at `limit`; "last": keep the newest `limit` up to `throughSeq`. */
  keep?: "first" | "last";
  /** Read no further than this sequence. */
  throughSeq?: number;
}

export interface Page {
  events: DecodedEvent[];
  /** Stored events of the filters read (accepted or not). */
  examined: number;
  /** The sequence of the last stored event read: where the next page starts after. */
  lastExamined: number | undefined;
  /** Whether stored events beyond lastExamined existed when the read started. */
  more: boolean;
}

/** First window of the newest page, in sequences (other scopes' events share the sequence space). */
const NEWEST_FIRST_WINDOW = 1024;

interface RawStored {
  seq: number;
  subject: string;
  data: Uint8Array;
}

function decodeStored(m: RawStored, p: Partition): DecodedEvent | undefined {
  try {
    return inPartition(decodeBusEvent(liveOfStoredIn(p, m.subject), m.data, m.seq), p);
  } catch (err) {
    if (err instanceof InvalidEventError) return undefined;
    throw err;
  }
}

/**
 * nats-server checks a producer's permissions on the mapped subject, so a producer may publish
 * straight into a partition subject (`in.sms.<k>.<tenant>...`) of another tenant's partition. Such
 * an event is not where the tenant's reads look: live it is dropped (src/resume/feed-continuity.ts),
 * and here it is skipped like an invalid one, so that replay and live agree.
 */
function inPartition(decoded: DecodedEvent, p: Partition): DecodedEvent | undefined {
  return p.count === 1 || partitionIndex(decoded.tenantId, p.count) === p.index ? decoded : undefined;
}

/**
 * Up to `max` stored messages of one consumer, undecoded (invalid ones included: they use up a
 * sequence), fetched in batches of at most BATCH, until `max` or the server says none are left.
 */
async function* rawMessages(consumer: Consumer, max: number): AsyncGenerator<RawStored> {
  let remaining = max;
  while (remaining > 0) {
    const batch = await withTimeout(fetchRaw(consumer, Math.min(BATCH, remaining)), FETCH_TIMEOUT_MS);
    // A fetch that ends empty while events are still pending (a stale connection, a leader
    // change): the read is incomplete, and an incomplete read must not pass for a complete one.
    // The caller retries (gap repair, replay) or answers unavailable (resume, history).
    if (batch.stored.length === 0) throw new Error(`stream read incomplete: ${remaining} of ${max} events not fetched`);
    remaining = batch.last ? 0 : remaining - batch.stored.length;
    yield* batch.stored;
  }
}

async function fetchRaw(consumer: Consumer, max: number): Promise<{ stored: RawStored[]; last: boolean }> {
  const stored: RawStored[] = [];
  const messages = await consumer.fetch({ max_messages: max, expires: 2000 });
  for await (const m of messages) {
    stored.push({ seq: m.seq, subject: m.subject, data: m.data });
    if (m.info.pending === 0) return { stored, last: true };
    if (stored.length >= max) break;
  }
  return { stored, last: false };
}

/** Merge sources, each in sequence order, one message at a time in sequence order. */
async function* mergeRawBySeq(sources: AsyncGenerator<RawStored>[]): AsyncGenerator<RawStored> {
  const heads = await Promise.all(sources.map(async (s) => (await s.next()).value as RawStored | undefined));
  for (;;) {
    let at = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== undefined && (at < 0 || h.seq < (heads[at] as RawStored).seq)) at = i;
    }
    if (at < 0) return;
    yield heads[at] as RawStored;
    heads[at] = (await (sources[at] as AsyncGenerator<RawStored>).next()).value as RawStored | undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stream read timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

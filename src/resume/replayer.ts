/**
 * Resume (README.md, "Resume: nothing missed across reconnects"): a socket that authenticates with
 * {epoch, seq} gets every event of its scope stored above seq, in order, then goes live with no gap
 * and no duplicate.
 *
 * The seam: the socket's feeds are already subscribed when this starts, but the socket is not yet
 * on their uWS topics. From the first line of resume() every event published to those topics is
 * held for the socket (observe). The stored events are streamed in batches (a snapshot taken
 * after holding began), sent, then the held events above the last sent seq, then
 * {"type":"resumed"}, then the socket joins its topics: the last three steps in one synchronous
 * block, so nothing can slip between them.
 *
 * Every wait is bounded (docs/security.md): a slot (ReplaySlots: per node, per key, per tenant,
 * bounded queue with a deadline), the socket's send buffer (a replay that cannot send for
 * RESUME_STALL_MS is closed, 4429), and the live events held meanwhile (RESUME_HELD_MAX, 4429).
 *
 * Partitions (STREAM_PARTITIONS=K > 1, docs/partitioning.md): an app socket's tenant lives in one
 * partition, so its position is one {epoch, seq} of that partition's stream. An admin socket
 * resumes with one position per partition (`positions`, in partition order): each partition is
 * replayed above its own sequence, one after the other; order holds within a partition only.
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import type { Partitions } from "../bus/partitions.js";
import { epochOf, SINGLE } from "../bus/stream.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { Refusals } from "../protocol/refusal.js";
import { resumedFrame, resumeFailedFrame, type ResumeFailure } from "../protocol/server-messages.js";
import { ReplaySlots } from "./replay-slots.js";
import type { ReplaySocket } from "./replay-socket.js";
import type { StreamRead, StreamReader } from "./stream-reader.js";

/** Held live events few enough to send in the final synchronous block of a resume. */
const FINAL_BLOCK = 64;
/** An incomplete stream read is read again this many times (after 250, 500, 750 ms). */
const READ_RETRIES = 3;
const READ_RETRY_MS = 250;
/** How often a paced send looks at the socket's buffer again. */
const PACE_MS = 5;

interface Held {
  readonly socket: ReplaySocket;
  readonly topics: ReadonlySet<string>;
  readonly events: DecodedEvent[];
}

type ReplayConfig = Pick<
  Config,
  | "maxBackpressureBytes"
  | "resumeMaxEvents"
  | "resumeConcurrency"
  | "resumeConcurrencyPerKey"
  | "resumeConcurrencyPerTenant"
  | "resumeQueueMax"
  | "resumeQueueWaitMs"
  | "resumeStallMs"
  | "resumeHeldMax"
>;

type Outcome = { replayed: number } | { failed: ResumeFailure };

type Reader = Pick<StreamReader, "info" | "open">;

/** The streams of STREAM_PARTITIONS=K > 1: one reader per partition, in partition order. */
export interface PartitionedReaders<R> {
  readonly partitions: Partitions;
  readonly readers: readonly R[];
}

/** One partition to replay: its reader and the position in it (undefined: `since`). */
interface Leg {
  readonly index: number;
  readonly reader: Reader;
  readonly position: { epoch: string; seq: number } | undefined;
}

/** Last sequence sent, per partition index; -1: everything held goes out. */
type Sent = number[] | -1;

export class Replayer {
  readonly #holding = new Set<Held>();
  readonly #slots: ReplaySlots;

  constructor(
    private readonly reader: Reader,
    private readonly config: ReplayConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly partitioned?: PartitionedReaders<Reader>,
  ) {
    this.#slots = new ReplaySlots({
      total: config.resumeConcurrency,
      perKey: config.resumeConcurrencyPerKey,
      perTenant: config.resumeConcurrencyPerTenant,
      queueMax: config.resumeQueueMax,
      queueWaitMs: config.resumeQueueWaitMs,
    });
  }

  /**
   * Sees every event handed to a topic (the topic publisher's observer), to hold it for sockets
   * still replaying. Cheap when nobody is replaying.
   */
  observe(topic: string, decoded: DecodedEvent): void {
    if (this.#holding.size === 0) return;
    for (const held of this.#holding) {
      if (!held.topics.has(topic) || !held.socket.allows(decoded.event)) continue;
      held.events.push(decoded);
      if (held.events.length > this.config.resumeHeldMax) this.#abandon(held, "behind");
    }
  }

  resume(socket: ReplaySocket, request: ResumeRequest): void {
    const held: Held = { socket, topics: new Set(socket.feeds.map((f) => f.topic)), events: [] };
    this.#holding.add(held);
    this.#run(held, request).catch((err: unknown) => {
      this.log.warn({ err: String(err), socket: socket.id }, "resume failed");
      this.#finish(held, { failed: "unavailable" }, -1);
    });
  }

  async #run(held: Held, request: ResumeRequest): Promise<void> {
    const { socket } = held;
    const slot = await this.#slots.acquire(socket.owner, () => socket.isClosed());
    if (!slot.granted) {
      if (!socket.isClosed()) this.log.info({ socket: socket.id, reason: slot.reason }, "no replay slot; resume unavailable");
      return this.#finish(held, { failed: "unavailable" }, -1);
    }
    try {
      if (socket.isClosed()) return;
      const legs = this.#legs(socket, request);
      if (legs === undefined) return this.#finish(held, { failed: "epoch" }, -1);
      const starts: { leg: Leg; afterSeq: number }[] = [];
      for (const leg of legs) {
        const info = await leg.reader.info();
        if (info === null) return this.#finish(held, { failed: "unavailable" }, -1);
        const position = leg.position;
        if (position === undefined) {
          starts.push({ leg, afterSeq: 0 });
          continue;
        }
        const p = this.partitioned?.partitions.all[leg.index] ?? SINGLE;
        if (epochOf(info, p) !== position.epoch) return this.#finish(held, { failed: "epoch" }, -1);
        // A position beyond the stream's end was not issued by this stream incarnation.
        if (position.seq > info.state.last_seq) return this.#finish(held, { failed: "epoch" }, -1);
        if (position.seq + 1 < info.state.first_seq && position.seq !== info.state.last_seq) return this.#finish(held, { failed: "retention" }, -1);
        // Nothing stored above the position: nothing to read (the held events follow it).
        starts.push({ leg: position.seq === info.state.last_seq ? { ...leg, reader: EMPTY } : leg, afterSeq: position.seq });
      }
      await this.#replay(held, starts, "sinceMs" in request ? request.sinceMs : undefined);
    } finally {
      slot.release();
    }
  }

  /**
   * The partitions a socket replays and its position in each; undefined when the request does not
   * fit the socket (a vector for an app socket, one position for an admin socket over K > 1
   * partitions, a vector of another length): answered resume_failed epoch.
   */
  #legs(socket: ReplaySocket, request: ResumeRequest): Leg[] | undefined {
    const partitioned = this.partitioned;
    const tenantId = socket.owner.tenantId;
    if (partitioned === undefined || !partitioned.partitions.partitioned || tenantId !== undefined) {
      const index = partitioned === undefined || tenantId === undefined ? 0 : partitioned.partitions.ofTenant(tenantId).index;
      const reader = partitioned?.readers[index] ?? this.reader;
      if ("sinceMs" in request) return [{ index, reader, position: undefined }];
      const position = "positions" in request ? (request.positions.length === 1 ? request.positions[0] : undefined) : request;
      return position === undefined ? undefined : [{ index, reader, position: { epoch: position.epoch, seq: position.seq } }];
    }
    // An admin socket over K > 1 partitions: one leg per partition.
    if ("sinceMs" in request) return partitioned.readers.map((reader, index) => ({ index, reader, position: undefined }));
    if (!("positions" in request) || request.positions.length !== partitioned.readers.length) return undefined;
    return partitioned.readers.map((reader, index) => ({ index, reader, position: request.positions[index] }));
  }

  /** The partition index of a live event (0 with a single stream). */
  #partitionOf(e: DecodedEvent): number {
    const partitions = this.partitioned?.partitions;
    return partitions === undefined || !partitions.partitioned ? 0 : partitions.ofTenant(e.tenantId).index;
  }

  /**
   * Replay the stored events above each leg's afterSeq, or (sinceMs) from the first one stored at
   * or after that time, then the held live ones, then go live. A time position cannot tell whether
   * events before the stream's first were dropped by retention: it replays what the stream holds.
   * Every leg is opened (and its pending count known) before anything is sent, so the
   * RESUME_MAX_EVENTS limit covers the whole replay.
   */
  async #replay(held: Held, starts: readonly { leg: Leg; afterSeq: number }[], sinceMs: number | undefined): Promise<void> {
    const { socket } = held;
    const subjects = socket.feeds.map((f) => f.subject);
    const lastSent: number[] = [];
    const reads: { leg: Leg; afterSeq: number; read: StreamRead }[] = [];
    const closeAll = async (): Promise<void> => void (await Promise.all(reads.map((r) => r.read.close())));
    try {
      let pending = 0;
      for (const { leg, afterSeq } of starts) {
        lastSent[leg.index] = afterSeq;
        const opened = await leg.reader.open(subjects, afterSeq, this.config.resumeMaxEvents - pending, sinceMs);
        if (opened.type === "limit") {
          await closeAll();
          return this.#finish(held, { failed: "limit" }, -1);
        }
        pending += opened.read.pending;
        reads.push({ leg, afterSeq, read: opened.read });
      }
      let replayed = 0;
      for (const entry of reads) {
        const index = entry.leg.index;
        for (let attempt = 0; ; attempt++) {
          try {
            for await (const batch of entry.read.batches()) {
              // The filter skips events, never positions: lastSent moves past the skipped ones too.
              const frames = batch.filter((e) => socket.allows(e.event)).map((e) => e.frame);
              if (!(await this.#sendPaced(held, frames))) return;
              replayed += frames.length;
              lastSent[index] = batch.at(-1)?.event.seq ?? (lastSent[index] as number);
            }
            break;
          } catch (err) {
            // An incomplete read (a slow or stale connection, a leader change) is read again from
            // the last event sent, a few times, before the resume is given up as unavailable.
            if (attempt >= READ_RETRIES || socket.isClosed()) throw err;
            this.log.info({ err: String(err), socket: socket.id, attempt }, "replay read incomplete; reading again from the last event sent");
            await entry.read.close();
            await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS * (attempt + 1)));
            const from = lastSent[index] as number;
            const reopened = await entry.leg.reader.open(subjects, from, this.config.resumeMaxEvents, from === entry.afterSeq ? sinceMs : undefined);
            if (reopened.type === "limit") throw err;
            entry.read = reopened.read;
          }
        }
      }
      const drained = await this.#drainHeld(held, lastSent);
      if (drained === undefined) return;
      this.metrics.eventsReplayed.inc(replayed);
      this.#finish(held, { replayed }, drained);
    } finally {
      await closeAll();
    }
  }

  /** Send held live events above lastSent, the outcome, and join the live topics: one block. */
  #finish(held: Held, outcome: Outcome, sent: Sent): void {
    if (!this.#holding.delete(held)) return; // already abandoned
    const { socket } = held;
    if (socket.isClosed()) return;
    if ("failed" in outcome) {
      this.metrics.resumes.inc({ outcome: outcome.failed });
      socket.send(resumeFailedFrame(outcome.failed));
    }
    const frames: string[] = [];
    const lastSent = sent === -1 ? [] : sent;
    for (const e of held.events) {
      const seq = e.event.seq;
      const p = seq === undefined ? 0 : this.#partitionOf(e);
      if (seq === undefined || sent === -1 || seq > (lastSent[p] ?? -1)) {
        frames.push(e.frame);
        if (seq !== undefined && sent !== -1) lastSent[p] = seq;
      }
    }
    socket.sendMany(frames, 0, Infinity);
    if ("replayed" in outcome) {
      this.metrics.resumes.inc({ outcome: "ok" });
      socket.send(resumedFrame(outcome.replayed));
    }
    socket.goLive();
  }

  /** The socket cannot be served: close it (4429) so its client resumes later, from what it has. */
  #abandon(held: Held, why: "stalled" | "behind"): void {
    if (!this.#holding.delete(held)) return;
    this.metrics.resumes.inc({ outcome: why });
    this.log.info({ socket: held.socket.id, why }, "replay abandoned; closing the socket");
    held.socket.close(why === "stalled" ? Refusals.replayStalled : Refusals.replayBehind);
  }

  /**
   * Send frames without ever letting the socket's buffer pass half the slow-consumer limit.
   * False when the replay is over for this socket (closed, or stalled past RESUME_STALL_MS).
   */
  async #sendPaced(held: Held, frames: readonly string[]): Promise<boolean> {
    const { socket } = held;
    const budget = this.config.maxBackpressureBytes / 2;
    let next = 0;
    let progressAt = Date.now();
    while (this.#holding.has(held) && !socket.isClosed()) {
      const sent = socket.sendMany(frames, next, budget);
      if (sent >= frames.length) return true;
      if (sent > next) {
        next = sent;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > this.config.resumeStallMs) {
        this.#abandon(held, "stalled");
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    return false;
  }

  /**
   * Live events held during a long replay can be many: send them paced too, while new ones keep
   * arriving, until few enough remain for #finish to send in one synchronous block. Undefined
   * when the replay is over for this socket.
   */
  async #drainHeld(held: Held, lastSent: number[]): Promise<number[] | undefined> {
    for (;;) {
      const pending = held.events.filter((e) => e.event.seq === undefined || e.event.seq > (lastSent[this.#partitionOf(e)] ?? -1));
      if (pending.length <= FINAL_BLOCK) return lastSent;
      held.events.length = 0;
      if (!(await this.#sendPaced(held, pending.map((e) => e.frame)))) return undefined;
      for (const e of pending) if (e.event.seq !== undefined) lastSent[this.#partitionOf(e)] = e.event.seq;
    }
  }
}

/** A leg with nothing stored above its position: read as empty. */
const EMPTY: Reader = {
  info: () => Promise.resolve(null),
  open: (_f, afterSeq) =>
    Promise.resolve({
      type: "open",
      read: {
        pending: 0,
        through: afterSeq,
        // eslint-disable-next-line require-yield
        batches: async function* () {
          return;
        },
        close: () => Promise.resolve(),
      },
    }),
};

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
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import { epochOf } from "../bus/stream.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { Refusals } from "../protocol/refusal.js";
import { resumedFrame, resumeFailedFrame, type ResumeFailure } from "../protocol/server-messages.js";
import { ReplaySlots } from "./replay-slots.js";
import type { ReplaySocket } from "./replay-socket.js";
import type { StreamReader } from "./stream-reader.js";

/** Held live events few enough to send in the final synchronous block of a resume. */
const FINAL_BLOCK = 64;
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

export class Replayer {
  readonly #holding = new Set<Held>();
  readonly #slots: ReplaySlots;

  constructor(
    private readonly reader: Pick<StreamReader, "info" | "open">,
    private readonly config: ReplayConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
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
      const info = await this.reader.info();
      if (info === null) return this.#finish(held, { failed: "unavailable" }, -1);
      if ("sinceMs" in request) return await this.#replay(held, 0, request.sinceMs);
      if (epochOf(info) !== request.epoch) return this.#finish(held, { failed: "epoch" }, -1);
      // A position beyond the stream's end was not issued by this stream incarnation.
      if (request.seq > info.state.last_seq) return this.#finish(held, { failed: "epoch" }, -1);
      if (request.seq === info.state.last_seq) return this.#finish(held, { replayed: 0 }, request.seq);
      if (request.seq + 1 < info.state.first_seq) return this.#finish(held, { failed: "retention" }, -1);
      await this.#replay(held, request.seq, undefined);
    } finally {
      slot.release();
    }
  }

  /**
   * Replay the stored events above afterSeq, or (sinceMs) from the first one stored at or after
   * that time, then the held live ones, then go live. A time position cannot tell whether events
   * before the stream's first were dropped by retention: it replays what the stream holds.
   */
  async #replay(held: Held, afterSeq: number, sinceMs: number | undefined): Promise<void> {
    const { socket } = held;
    {
      const opened = await this.reader.open(
        socket.feeds.map((f) => f.subject),
        afterSeq,
        this.config.resumeMaxEvents,
        sinceMs,
      );
      if (opened.type === "limit") return this.#finish(held, { failed: "limit" }, -1);
      let lastSent = afterSeq;
      let replayed = 0;
      try {
        for await (const batch of opened.read.batches()) {
          // The filter skips events, never positions: lastSent moves past the skipped ones too.
          const frames = batch.filter((e) => socket.allows(e.event)).map((e) => e.frame);
          if (!(await this.#sendPaced(held, frames))) return;
          replayed += frames.length;
          lastSent = batch.at(-1)?.event.seq ?? lastSent;
        }
      } finally {
        await opened.read.close();
      }
      const lastHeld = await this.#drainHeld(held, lastSent);
      if (lastHeld === undefined) return;
      this.metrics.eventsReplayed.inc(replayed);
      this.#finish(held, { replayed }, lastHeld);
    }
  }

  /** Send held live events above lastSent, the outcome, and join the live topics: one block. */
  #finish(held: Held, outcome: Outcome, lastSent: number): void {
    if (!this.#holding.delete(held)) return; // already abandoned
    const { socket } = held;
    if (socket.isClosed()) return;
    if ("failed" in outcome) {
      this.metrics.resumes.inc({ outcome: outcome.failed });
      socket.send(resumeFailedFrame(outcome.failed));
    }
    const frames: string[] = [];
    for (const e of held.events) {
      const seq = e.event.seq;
      if (seq === undefined || seq > lastSent) {
        frames.push(e.frame);
        if (seq !== undefined) lastSent = seq;
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
  async #drainHeld(held: Held, lastSent: number): Promise<number | undefined> {
    for (;;) {
      const pending = held.events.filter((e) => e.event.seq === undefined || e.event.seq > lastSent);
      if (pending.length <= FINAL_BLOCK) return lastSent;
      held.events.length = 0;
      if (!(await this.#sendPaced(held, pending.map((e) => e.frame)))) return undefined;
      lastSent = pending.at(-1)?.event.seq ?? lastSent;
    }
  }
}

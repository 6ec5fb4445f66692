/**
 * Resume (SPEC section 1b): a socket that authenticates with {epoch, seq} gets every event of its
 * scope stored above seq, in order, then goes live with no gap and no duplicate.
 *
 * The seam: the socket's feeds are already subscribed when this starts, but the socket is not yet
 * on their uWS topics. From the first line of resume() every event published to those topics is
 * held for the socket. The stored events are read (a snapshot taken after holding began), sent,
 * then the held events above the last sent seq, then {"type":"resumed"}, then the socket joins its
 * topics: the last three steps in one synchronous block, so nothing can slip between them.
 */
import type { Logger } from "pino";
import type { DecodedEvent } from "../bus/event-decoder.js";
import { streamInfo, epochOf } from "../bus/stream.js";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { resumedFrame, resumeFailedFrame, type ResumeFailure } from "../protocol/server-messages.js";
import type { Gateway, Socket } from "../server/gateway.js";
import { StreamReader } from "./stream-reader.js";

/** Held live events few enough to send in the final synchronous block of a resume. */
const FINAL_BLOCK = 64;

interface Held {
  readonly topics: ReadonlySet<string>;
  readonly events: DecodedEvent[];
}

export class Replayer {
  readonly #holding = new Map<Socket, Held>();
  readonly #reader: StreamReader;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.#reader = new StreamReader(nc);
  }

  /** Called by the fan-out for every event handed to a topic. Cheap when nobody is replaying. */
  observe(topic: string, decoded: DecodedEvent): void {
    if (this.#holding.size === 0) return;
    for (const held of this.#holding.values()) if (held.topics.has(topic)) held.events.push(decoded);
  }

  get active(): number {
    return this.#holding.size;
  }

  resume(gateway: Gateway, ws: Socket, request: ResumeRequest): void {
    const data = ws.getUserData();
    const held: Held = { topics: new Set((data.feeds ?? []).map((f) => f.topic)), events: [] };
    this.#holding.set(ws, held);
    this.#run(gateway, ws, request, held).catch((err: unknown) => {
      this.log.warn({ err, socket: data.id }, "resume failed");
      this.#finish(gateway, ws, held, { failed: "unavailable" }, -1);
    });
  }

  async #run(gateway: Gateway, ws: Socket, request: ResumeRequest, held: Held): Promise<void> {
    await this.#slot();
    try {
      const data = ws.getUserData();
      if (data.state === "closed") return;
      const info = await streamInfo(this.nc);
      if (info === null) return this.#finish(gateway, ws, held, { failed: "unavailable" }, -1);
      if (epochOf(info) !== request.epoch) return this.#finish(gateway, ws, held, { failed: "epoch" }, -1);
      // A position beyond the stream's end was not issued by this stream incarnation.
      if (request.seq > info.state.last_seq) return this.#finish(gateway, ws, held, { failed: "epoch" }, -1);
      if (request.seq === info.state.last_seq) return this.#finish(gateway, ws, held, { replayed: 0 }, request.seq);
      if (request.seq + 1 < info.state.first_seq) return this.#finish(gateway, ws, held, { failed: "retention" }, -1);
      const filters = (data.feeds ?? []).map((f) => f.subject);
      const result = await this.#reader.read(filters, request.seq, this.config.resumeMaxEvents);
      if (result.type === "limit") return this.#finish(gateway, ws, held, { failed: "limit" }, -1);
      const frames = result.events.filter((e) => (e.event.seq as number) > request.seq).map((e) => e.frame);
      await this.#sendPaced(gateway, ws, frames);
      if (ws.getUserData().state === "closed") return;
      const lastSent = result.events.at(-1)?.event.seq ?? request.seq;
      const lastHeld = await this.#drainHeld(gateway, ws, held, lastSent);
      this.metrics.eventsReplayed.inc(result.events.length);
      this.#finish(gateway, ws, held, { replayed: result.events.length }, lastHeld);
    } finally {
      this.#release();
    }
  }

  /** Send held live events above lastSent, the outcome, and join the live topics: one block. */
  #finish(gateway: Gateway, ws: Socket, held: Held, outcome: { replayed: number } | { failed: ResumeFailure }, lastSent: number): void {
    this.#holding.delete(ws);
    if (ws.getUserData().state === "closed") return;
    if ("failed" in outcome) {
      this.metrics.resumes.inc({ outcome: outcome.failed });
      gateway.send(ws, resumeFailedFrame(outcome.failed));
    }
    const frames: string[] = [];
    for (const e of held.events) {
      const seq = e.event.seq;
      if (seq === undefined || seq > lastSent) {
        frames.push(e.frame);
        if (seq !== undefined) lastSent = seq;
      }
    }
    gateway.sendMany(ws, frames);
    if ("replayed" in outcome) {
      this.metrics.resumes.inc({ outcome: "ok" });
      gateway.send(ws, resumedFrame(outcome.replayed));
    }
    gateway.goLive(ws);
  }

  /** Send frames without ever letting the socket's buffer pass half the slow-consumer limit. */
  async #sendPaced(gateway: Gateway, ws: Socket, frames: readonly string[]): Promise<void> {
    const budget = this.config.maxBackpressureBytes / 2;
    let next = 0;
    while (next < frames.length && ws.getUserData().state !== "closed") {
      next = gateway.sendMany(ws, frames, next, budget);
      if (next < frames.length) await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Live events held during a long replay can be many: send them paced too, while new ones keep
   * arriving, until few enough remain for #finish to send in one synchronous block.
   */
  async #drainHeld(gateway: Gateway, ws: Socket, held: Held, lastSent: number): Promise<number> {
    while (ws.getUserData().state !== "closed") {
      const pending = held.events.filter((e) => e.event.seq === undefined || (e.event.seq as number) > lastSent);
      if (pending.length <= FINAL_BLOCK) return lastSent;
      held.events.length = 0;
      await this.#sendPaced(gateway, ws, pending.map((e) => e.frame));
      lastSent = pending.at(-1)?.event.seq ?? lastSent;
    }
    return lastSent;
  }

  #slot(): Promise<void> {
    if (this.#running < this.config.resumeConcurrency) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(() => resolve()));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}

/**
 * One Server-Sent Events response (GET /v1/events/stream): what it carries, and every way the
 * node writes to or ends it.
 *
 * The send buffer is bounded. uWS's HttpResponse has no buffered-amount getter, and once a
 * write() returns false (the kernel buffer is full and uWS keeps the rest) it stops draining on
 * its own as soon as an onWritable handler is set. So after a failed write, frames wait in our
 * own queue; onWritable writes them out (its first, empty write lets uWS flush what it holds).
 * When the queue passes MAX_BACKPRESSURE_BYTES (counted in bytes: live frames arrive encoded
 * once, as Buffers, shared by every stream) the stream is a slow consumer: the queue is dropped
 * and the stream ends with `event: close` (4429), like a socket; its client resumes from the last
 * id it received, so nothing is lost.
 */
import type { HttpResponse } from "uWebSockets.js";
import type { Credential } from "../protocol/credential.js";
import { Refusals, type Refusal } from "../protocol/refusal.js";
import { sseCloseFrame } from "../protocol/sse-frames.js";
import type { EventFilter } from "../scope/filter.js";
import type { Feed, Scope } from "../scope/scope.js";

/** A frame as text (replay, control frames) or already encoded (live events, encoded once). */
export type SseChunk = string | Uint8Array;

const byteLength = (chunk: SseChunk): number => (typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength);

export interface EventStreamInfo {
  readonly id: number;
  readonly ip: string;
  readonly openedAt: number;
  readonly scope: Scope;
  readonly feeds: readonly Feed[];
  readonly credential: Credential;
  /** What the stream receives inside its scope (the request's filter under a token's ceiling). */
  readonly filter: EventFilter;
}

export type EventStreamState = "subscribing" | "replaying" | "live" | "closed";

export class EventStream {
  state: EventStreamState = "subscribing";
  /** Why the node ended it (undefined: the client went away). */
  closedBy: Refusal | undefined;
  delivered = 0;
  /** The fan-out number when it went live (stream-fanout.ts): events queued before are not its. */
  liveFrom = 0;
  #blocked = false;
  #queue: SseChunk[] = [];
  #queuedBytes = 0;

  constructor(
    private readonly res: HttpResponse,
    readonly info: EventStreamInfo,
    private readonly maxBufferedBytes: number,
    /** Runs once, when the stream ends for any reason. */
    private readonly ended: (stream: EventStream) => void,
  ) {
    res.onWritable(() => this.#flush());
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Bytes waiting in the stream's own queue (uWS holds at most the last failed write besides). */
  get bufferedBytes(): number {
    return this.#queuedBytes;
  }

  /** Write one frame (corked). False when the stream is closed, or was just closed as slow. */
  write(frame: SseChunk): boolean {
    if (this.state === "closed") return false;
    if (this.#blocked) {
      this.#queue.push(frame);
      this.#queuedBytes += byteLength(frame);
      if (this.#queuedBytes > this.maxBufferedBytes) {
        this.close(Refusals.slowConsumer);
        return false;
      }
      return true;
    }
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(frame);
    });
    if (!ok) this.#blocked = true;
    return true;
  }

  /** Frames from `from` on while the queue stays under the budget; the index of the first not sent. */
  writeMany(frames: readonly string[], from: number, budgetBytes: number): number {
    let i = from;
    if (this.state === "closed") return i;
    this.res.cork(() => {
      for (; i < frames.length && this.#queuedBytes < budgetBytes && this.state !== "closed"; i++) this.write(frames[i] as string);
    });
    return i;
  }

  /** Run writes under one cork (one syscall). */
  cork(fn: () => void): void {
    if (this.state === "closed") return;
    this.res.cork(fn);
  }

  /** End the stream: `event: close` with the refusal's code and reason, then the response ends. */
  close(refusal: Refusal): void {
    if (this.state === "closed") return;
    this.closedBy = refusal;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#end();
    this.res.cork(() => this.res.end(sseCloseFrame(refusal)));
  }

  /** The client went away (uWS onAborted): the response must not be touched again. */
  aborted(): void {
    if (this.state === "closed") return;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#end();
  }

  #end(): void {
    this.state = "closed";
    this.ended(this);
  }

  /** onWritable: flush uWS's own buffer (the empty write), then ours, until blocked again. */
  #flush(): boolean {
    if (this.state === "closed") return true;
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write("");
      let sent = 0;
      while (ok && sent < this.#queue.length) {
        const frame = this.#queue[sent++] as SseChunk;
        this.#queuedBytes -= byteLength(frame);
        ok = this.res.write(frame);
      }
      this.#queue = sent === this.#queue.length ? [] : this.#queue.slice(sent);
    });
    this.#blocked = !ok;
    return ok;
  }
}

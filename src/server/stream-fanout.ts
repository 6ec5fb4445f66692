/**
 * SSE fan-out, fair across tenants (W-5). uWS topics reach WebSockets only, so each event's SSE
 * frame is written to its topic's streams by a JavaScript loop. Run inline from the NATS callback,
 * that loop made every later event wait: one tenant's 300 streams delayed other tenants' sockets
 * and streams by seconds. So the NATS callback only queues the event (O(1)); the writes run
 * later, in slices of at most SLICE_WRITES write units (a unit: one write of up to 4 KiB) or
 * SLICE_MS, each slice on its own turn of the
 * event loop (setImmediate), so NATS and uWS I/O (other tenants' socket deliveries) run between
 * slices; within a slice tenants take turns of TURN_WRITES writes, so one tenant's backlog delays
 * another's streams by at most one slice.
 *
 * Events of one topic that queue up behind each other (a burst, or a backlog) are written as one
 * group: their frames joined once, one write (one syscall) per stream for the whole group instead
 * of one per event; the per-write cost, not the bytes, is what a burst to many streams spends.
 *
 * A stream that goes live after an event was queued is skipped for that event (its replay held it
 * already): each stream records the fan-out number it went live at.
 *
 * Bounded: at most MAX_PENDING_PER_TENANT events wait per tenant; past that the node cannot write
 * that tenant's streams as fast as events come, and `overflow` ends the streams of its waiting
 * topics (4429; their clients resume from their last id, so nothing is lost).
 */
import type { SmsEvent } from "../events/event.js";
import { filterAllows, isNarrowing, type EventFilter } from "../scope/filter.js";

/** What the fan-out needs of a stream. */
export interface FanoutStream {
  readonly info: { readonly filter: EventFilter };
  /** The fan-out number current when it went live; events queued before it are skipped. */
  liveFrom: number;
  delivered: number;
  write(frame: Uint8Array): boolean;
  /** Several writes under one cork (one syscall). */
  cork(fn: () => void): void;
}

/** A write costs one unit per started 4 KiB: a slice copies at most about 1 MiB, a turn 128 KiB. */
export const WRITE_UNIT_BYTES = 4096;
export const SLICE_WRITES = 256;
export const SLICE_MS = 2;
export const TURN_WRITES = 32;
export const MAX_PENDING_PER_TENANT = 10_000;
/** Most events, and bytes, one group holds. */
export const GROUP_EVENTS = 64;
export const GROUP_BYTES = 64 * 1024;

/** Consecutive events of one topic (`firstNo` .. `firstNo + frames.length - 1`), written as a group. */
interface Delivery<S extends FanoutStream> {
  readonly firstNo: number;
  readonly topic: string;
  readonly set: Set<S>;
  readonly frames: Uint8Array[];
  readonly events: SmsEvent[];
  bytes: number;
  /** The frames joined, made at the first stream that takes them all. */
  joined: Uint8Array | undefined;
  /** Set at the first stream written: from then on the group takes no more events. */
  streams: Iterator<S> | undefined;
  delivered: number;
}

export interface FanoutDeps {
  /** An event's writes are done: `n` streams got it. */
  delivered(tenantId: string, n: number): void;
  /** The tenant's backlog passed MAX_PENDING_PER_TENANT: end these topics' streams. */
  overflow(tenantId: string, topics: ReadonlySet<string>): void;
  /** Run the next slice later (setImmediate; a test passes its own). */
  defer?: (run: () => void) => void;
  now?: () => number;
}

/** A tenant's waiting events, oldest first (`head`: the first not done). */
interface Queue<S extends FanoutStream> {
  readonly items: Delivery<S>[];
  head: number;
  /** Events waiting (over all its groups). */
  events: number;
}



export class StreamFanout<S extends FanoutStream> {
  /** Tenants with events waiting, in turn order (a tenant goes to the back after its turn). */
  readonly #queues = new Map<string, Queue<S>>();
  #no = 0;
  #scheduled = false;
  readonly #defer: (run: () => void) => void;
  readonly #now: () => number;

  constructor(private readonly deps: FanoutDeps) {
    this.#defer = deps.defer ?? ((run) => void setImmediate(run));
    this.#now = deps.now ?? (() => performance.now());
  }

  /** The current fan-out number (a stream going live records it). */
  get current(): number {
    return this.#no;
  }

  /** Events waiting, over all tenants. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.events;
    return n;
  }

  /** Queue one event for the streams of one topic (the live set, read as the writes happen). */
  enqueue(tenantId: string, topic: string, streams: Set<S>, frame: Uint8Array, event: SmsEvent): void {
    let queue = this.#queues.get(tenantId);
    if (queue === undefined) this.#queues.set(tenantId, (queue = { items: [], head: 0, events: 0 }));
    const no = ++this.#no;
    const tail = queue.head < queue.items.length ? queue.items[queue.items.length - 1] : undefined;
    if (tail !== undefined && tail.streams === undefined && tail.topic === topic && tail.set === streams && tail.frames.length < GROUP_EVENTS && tail.bytes + frame.byteLength <= GROUP_BYTES) {
      tail.frames.push(frame);
      tail.events.push(event);
      tail.bytes += frame.byteLength;
    } else {
      queue.items.push({ firstNo: no, topic, set: streams, frames: [frame], events: [event], bytes: frame.byteLength, joined: undefined, streams: undefined, delivered: 0 });
    }
    queue.events++;
    if (queue.events > MAX_PENDING_PER_TENANT) {
      this.#queues.delete(tenantId);
      this.deps.overflow(tenantId, new Set(queue.items.slice(queue.head).map((d) => d.topic)));
      return;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#queues.size === 0) return;
    this.#scheduled = true;
    this.#defer(() => {
      this.#scheduled = false;
      this.runSlice();
      this.#schedule();
    });
  }

  /** One slice: tenants in turn, TURN_WRITES writes each, until SLICE_WRITES or SLICE_MS. */
  runSlice(): void {
    const start = this.#now();
    let budget = SLICE_WRITES;
    while (budget > 0 && this.#queues.size > 0 && this.#now() - start < SLICE_MS) {
      const [tenantId, queue] = this.#queues.entries().next().value as [string, Queue<S>];
      this.#queues.delete(tenantId);
      budget -= this.#turn(tenantId, queue, Math.min(TURN_WRITES, budget));
      if (queue.head < queue.items.length) this.#queues.set(tenantId, queue);
    }
  }

  /** Up to `writes` stream writes of this tenant's oldest groups; returns the writes spent (at least 1). */
  #turn(tenantId: string, queue: Queue<S>, writes: number): number {
    let spent = 0;
    while (queue.head < queue.items.length && spent < writes) {
      const d = queue.items[queue.head] as Delivery<S>;
      d.streams ??= d.set.values();
      for (;;) {
        const next = d.streams.next();
        if (next.done === true) {
          queue.head++;
          queue.events -= d.frames.length;
          this.deps.delivered(tenantId, d.delivered);
          break;
        }
        spent += this.#write(next.value, d);
        if (spent >= writes) break;
      }
    }
    // Done events leave the array now and then, not one shift() each.
    if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
      queue.items.splice(0, queue.head);
      queue.head = 0;
    }
    return Math.max(1, spent);
  }

  /**
   * The whole group in one write when the stream takes all of it, else its events one by one
   * (corked). Returns what it cost in write units (at least 1, for the stream's turn).
   */
  #write(s: S, d: Delivery<S>): number {
    const lastNo = d.firstNo + d.frames.length - 1;
    if (s.liveFrom >= lastNo) return 1;
    if (s.liveFrom < d.firstNo && !isNarrowing(s.info.filter)) {
      d.joined ??= d.frames.length === 1 ? d.frames[0] : Buffer.concat(d.frames, d.bytes);
      if (s.write(d.joined as Uint8Array)) {
        s.delivered += d.frames.length;
        d.delivered += d.frames.length;
      }
      return Math.ceil(d.bytes / WRITE_UNIT_BYTES);
    }
    let bytes = 0;
    s.cork(() => {
      for (let i = 0; i < d.frames.length; i++) {
        if (d.firstNo + i <= s.liveFrom || !filterAllows(s.info.filter, d.events[i] as SmsEvent)) continue;
        bytes += (d.frames[i] as Uint8Array).byteLength;
        if (s.write(d.frames[i] as Uint8Array)) {
          s.delivered++;
          d.delivered++;
        }
      }
    });
    return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
  }
}

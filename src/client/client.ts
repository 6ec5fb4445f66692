/**
 * SmsWsClient: one logical subscription to the gateway, kept alive across sockets.
 *
 * Per socket: open -> send auth (with the resume position when there is one) -> auth_ok ->
 * [replay -> resumed | resume_failed] -> live. When a socket goes away the close code decides
 * (close-codes.ts): reconnect after a full-jitter backoff, or stop for good. Every event passes
 * through the eventId window, so replays after a resume never reach the application twice.
 *
 * Listeners run synchronously inside the client's socket handlers and may call close(); every
 * step that follows an emit therefore re-checks that its connection is still the current one.
 */
import { backoffDelay } from "./backoff.js";
import { closeAction, HEARTBEAT_TIMEOUT_CLOSE } from "./close-codes.js";
import { EventIdWindow } from "./dedupe.js";
import { SmsWsError } from "./errors.js";
import { parseServerFrame } from "./frames.js";
import { ItemQueue } from "./item-queue.js";
import { resolveOptions, type ClientOptions, type ResolvedOptions } from "./options.js";
import { abandonSocket, type WebSocketLike } from "./socket.js";
import type {
  ClientEventMap,
  ClientItem,
  ClientState,
  ResumeFailure,
  SmsEvent,
  StateChange,
  StreamPosition,
} from "./types.js";

/** One socket's life. Handlers of an old socket see `client.#conn !== conn` and do nothing. */
interface Connection {
  readonly socket: WebSocketLike;
  /** The position sent in this socket's auth message, if it asked to resume. */
  resumeFrom: StreamPosition | undefined;
  /** resumed or resume_failed already handled (or decided locally) for this socket. */
  resumeSettled: boolean;
  authenticated: boolean;
  /** The text of an auth_error frame; the close that follows carries the code. */
  authError: string | undefined;
}

type Listeners = { [K in keyof ClientEventMap]: Set<(payload: ClientEventMap[K]) => void> };

export class SmsWsClient implements AsyncIterable<ClientItem> {
  readonly #options: ResolvedOptions;
  readonly #seen: EventIdWindow;
  readonly #listeners: Listeners = {
    event: new Set(),
    state: new Set(),
    error: new Set(),
    resumed: new Set(),
    resumeFailed: new Set(),
  };
  readonly #queues = new Set<ItemQueue<ClientItem>>();

  #state: ClientState = "connecting";
  #conn: Connection | undefined;
  #closed = false;
  #fatalError: SmsWsError | undefined;
  /** Failed connections in a row since the last auth_ok; drives the backoff. */
  #attempt = 0;
  #reconnectTimer: unknown;
  #watchdogTimer: unknown;
  #lastFrameAt = 0;
  #epoch: string | undefined;
  #lastSeq: number | undefined;
  /** Some earlier socket of this client was authenticated: later ones are reconnects. */
  #everAuthenticated = false;
  /** When the last authenticated socket went away; cleared once a later socket is live. */
  #disconnectedAt: number | undefined;

  constructor(options: ClientOptions) {
    this.#options = resolveOptions(options);
    this.#seen = new EventIdWindow(this.#options.dedupeWindow);
    if (this.#options.resumeFrom) {
      this.#epoch = this.#options.resumeFrom.epoch;
      this.#lastSeq = this.#options.resumeFrom.seq;
    }
    this.#connect();
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Epoch from the last auth_ok (or from `resumeFrom`). */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** Highest `seq` delivered within `epoch`. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
  }

  /** `{ epoch, seq }` to store and pass back as `resumeFrom`; undefined until both are known. */
  get position(): StreamPosition | undefined {
    return this.#epoch !== undefined && this.#lastSeq !== undefined ? { epoch: this.#epoch, seq: this.#lastSeq } : undefined;
  }

  /** Subscribes a listener; returns the function that unsubscribes it. */
  on<K extends keyof ClientEventMap>(name: K, listener: (payload: ClientEventMap[K]) => void): () => void {
    const set = this.#listeners[name] as Set<(payload: ClientEventMap[K]) => void>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * Everything that happens from now on, as a tagged union. Ends when the client closes; if it
   * closed on a fatal error (4400/4401/4403) the iterator throws that SmsWsError after the final
   * `{kind: "state", state: "closed"}` item. Each call is an independent consumer with its own
   * buffer; nothing from before the call is replayed.
   */
  items(): AsyncIterableIterator<ClientItem> {
    const queue: ItemQueue<ClientItem> = new ItemQueue(() => this.#queues.delete(queue));
    if (this.#closed) queue.end(this.#fatalError);
    else this.#queues.add(queue);
    return queue;
  }

  /** Like items(), keeping only the SMS events. */
  events(): AsyncIterableIterator<SmsEvent> {
    const items = this.items();
    const iterator: AsyncIterableIterator<SmsEvent> = {
      async next(): Promise<IteratorResult<SmsEvent>> {
        for (;;) {
          const result = await items.next();
          if (result.done) return { value: undefined, done: true };
          if (result.value.kind === "event") return { value: result.value.event, done: false };
        }
      },
      async return(): Promise<IteratorResult<SmsEvent>> {
        await items.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterator<ClientItem> {
    return this.items();
  }

  /** Closes the socket (1000), stops reconnecting, ends every iterator. Idempotent. */
  close(): void {
    this.#shutdown(undefined);
  }

  // ---- socket lifecycle -------------------------------------------------------------------

  #connect(): void {
    let socket: WebSocketLike;
    try {
      socket = new this.#options.WebSocket(this.#options.url);
    } catch (cause) {
      // A bad URL (SyntaxError in browsers) will not get better by retrying.
      this.#shutdown(new SmsWsError("CONNECT_FAILED", `cannot open a WebSocket to ${this.#options.url}: ${describe(cause)}`, { fatal: true, cause }));
      return;
    }
    const conn: Connection = { socket, resumeFrom: undefined, resumeSettled: false, authenticated: false, authError: undefined };
    this.#conn = conn;
    socket.onopen = () => {
      if (this.#conn === conn) this.#onOpen(conn);
    };
    socket.onmessage = (message) => {
      if (this.#conn === conn) this.#onMessage(conn, message.data);
    };
    socket.onclose = (close) => {
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      this.#socketGone(conn, close.code, close.reason);
    };
    // An error is always followed by a close event, which carries the code we act on.
    socket.onerror = () => {};
    this.#startWatchdog();
    this.#setState("connecting");
  }

  #onOpen(conn: Connection): void {
    this.#lastFrameAt = this.#options.now();
    const from = this.#options.resume ? this.position : undefined;
    conn.resumeFrom = from;
    const auth = from ? { type: "auth", apiKey: this.#options.apiKey, resume: from } : { type: "auth", apiKey: this.#options.apiKey };
    try {
      conn.socket.send(JSON.stringify(auth));
    } catch {
      return; // the socket is closing under us; its close event decides what happens next
    }
    this.#setState(from ? "resuming" : "authenticating");
  }

  #onMessage(conn: Connection, data: unknown): void {
    this.#lastFrameAt = this.#options.now();
    if (typeof data !== "string") return; // the protocol has no binary server frames
    const frame = parseServerFrame(data);
    switch (frame.type) {
      case "ping":
      case "unknown": // forward compatibility: new server frame types are ignored
        return;
      case "invalid":
        this.#emitError(new SmsWsError("INVALID_FRAME", `dropped a server frame: ${frame.problem}`));
        return;
      case "auth_error":
        conn.authError = frame.error;
        return;
      case "auth_ok":
        this.#onAuthOk(conn, frame.epoch);
        return;
      case "resumed":
        if (conn.resumeFrom === undefined || conn.resumeSettled) return;
        conn.resumeSettled = true;
        this.#disconnectedAt = undefined;
        this.#publish("resumed", { replayed: frame.replayed, from: conn.resumeFrom }, { kind: "resumed", replayed: frame.replayed, from: conn.resumeFrom });
        if (this.#conn === conn) this.#setState("live");
        return;
      case "resume_failed":
        if (conn.resumeFrom === undefined || conn.resumeSettled) return;
        this.#resumeFailed(conn, frame.reason);
        return;
      case "event":
        this.#deliver(frame.event);
        return;
    }
  }

  #onAuthOk(conn: Connection, epoch: string | undefined): void {
    if (conn.authenticated) return;
    conn.authenticated = true;
    this.#attempt = 0;
    if (epoch !== undefined && epoch !== this.#epoch) {
      // A new stream incarnation: sequences of the old one mean nothing in it.
      if (this.#epoch !== undefined) this.#lastSeq = undefined;
      this.#epoch = epoch;
    }
    const isReconnect = this.#everAuthenticated;
    this.#everAuthenticated = true;
    if (conn.resumeFrom !== undefined) {
      // No epoch: this node has no durable stream, so no replay and no resumed/resume_failed.
      if (epoch === undefined) this.#resumeFailed(conn, "unavailable");
      return; // otherwise stay "resuming" until the server says how the replay went
    }
    if (isReconnect && this.#options.resume) {
      // We could not even ask: the previous sockets never saw an event with a seq.
      this.#resumeFailed(conn, "no_position");
      return;
    }
    this.#disconnectedAt = undefined;
    this.#setState("live");
  }

  /** Tells the application that events may have been missed, then goes live. */
  #resumeFailed(conn: Connection, reason: string): void {
    conn.resumeSettled = true;
    const failure: ResumeFailure = { reason };
    if (conn.resumeFrom !== undefined) failure.from = conn.resumeFrom;
    if (this.#disconnectedAt !== undefined) failure.disconnectedAt = new Date(this.#disconnectedAt).toISOString();
    this.#disconnectedAt = undefined;
    this.#publish("resumeFailed", failure, { kind: "resumeFailed", ...failure });
    if (this.#conn === conn) this.#setState("live");
  }

  #deliver(event: SmsEvent): void {
    if (!this.#seen.add(event.eventId)) return; // a duplicate (typically replayed after a resume)
    if (event.seq !== undefined && (this.#lastSeq === undefined || event.seq > this.#lastSeq)) this.#lastSeq = event.seq;
    this.#publish("event", event, { kind: "event", event });
  }

  /** A socket is gone (closed by the server or the network, or dropped by the watchdog). */
  #socketGone(conn: Connection, code: number, reason: string): void {
    this.#stopWatchdog();
    if (conn.authenticated && this.#disconnectedAt === undefined) this.#disconnectedAt = this.#options.now();
    const action = closeAction(code);
    const details: Partial<StateChange> = { closeCode: code };
    if (reason) details.closeReason = reason;
    if (action.kind === "stop") {
      const message = conn.authError ?? (reason || `server closed the connection with code ${code}`);
      this.#shutdown(new SmsWsError(action.error, message, { closeCode: code, fatal: true }), details);
      return;
    }
    if (action.error !== undefined) {
      this.#emitError(new SmsWsError(action.error, reason || `connection closed with code ${code}`, { closeCode: code }));
      if (this.#closed) return;
    }
    const policy = this.#options.reconnect;
    if (policy === false) {
      this.#shutdown(undefined, details);
      return;
    }
    const delayMs = backoffDelay(this.#attempt, policy, this.#options.random);
    this.#attempt++;
    this.#reconnectTimer = this.#options.timers.setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#closed) this.#connect();
    }, delayMs);
    this.#setState("reconnecting", { ...details, attempt: this.#attempt, delayMs });
  }

  #shutdown(error: SmsWsError | undefined, details: Partial<StateChange> = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fatalError = error;
    this.#stopWatchdog();
    if (this.#reconnectTimer !== undefined) {
      this.#options.timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
    }
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) abandonSocket(conn.socket, 1000, "client closed", true);
    this.#setState("closed", error ? { ...details, error } : details);
    if (error) this.#emitError(error);
    for (const queue of [...this.#queues]) queue.end(error);
    this.#queues.clear();
  }

  // ---- heartbeat watchdog ------------------------------------------------------------------
  // One timer per socket, re-armed lazily: frames only record their arrival time, so a busy
  // socket does not pay a clearTimeout/setTimeout per event.

  #startWatchdog(): void {
    this.#stopWatchdog();
    if (this.#options.pingIntervalMs === 0) return;
    this.#lastFrameAt = this.#options.now();
    this.#armWatchdog(2 * this.#options.pingIntervalMs);
  }

  #armWatchdog(ms: number): void {
    this.#watchdogTimer = this.#options.timers.setTimeout(() => this.#checkWatchdog(), ms);
  }

  #stopWatchdog(): void {
    if (this.#watchdogTimer === undefined) return;
    this.#options.timers.clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
  }

  #checkWatchdog(): void {
    this.#watchdogTimer = undefined;
    const conn = this.#conn;
    if (conn === undefined || this.#closed) return;
    const limit = 2 * this.#options.pingIntervalMs;
    const silentFor = this.#options.now() - this.#lastFrameAt;
    if (silentFor < limit) {
      this.#armWatchdog(limit - silentFor);
      return;
    }
    // Two ping intervals without a single frame: the peer or the path is dead, and a dead TCP
    // connection can take minutes to report it. Drop the socket and reconnect now.
    this.#conn = undefined;
    abandonSocket(conn.socket, HEARTBEAT_TIMEOUT_CLOSE, "heartbeat timeout", false);
    this.#socketGone(conn, HEARTBEAT_TIMEOUT_CLOSE, "heartbeat timeout");
  }

  // ---- emitting ----------------------------------------------------------------------------

  #setState(state: ClientState, details: Partial<StateChange> = {}): void {
    if (state === this.#state) return;
    const change: StateChange = { ...details, state, previous: this.#state };
    this.#state = state;
    this.#publish("state", change, { kind: "state", ...change });
  }

  /** Iterators first, then listeners: a listener that calls close() must not reorder items. */
  #publish<K extends keyof ClientEventMap>(name: K, payload: ClientEventMap[K], item: ClientItem): void {
    for (const queue of this.#queues) queue.push(item);
    this.#emit(name, payload);
  }

  #emitError(error: SmsWsError): void {
    this.#emit("error", error);
  }

  #emit<K extends keyof ClientEventMap>(name: K, payload: ClientEventMap[K]): void {
    const listeners = this.#listeners[name] as Set<(payload: ClientEventMap[K]) => void>;
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (cause) {
        if (name !== "error" && this.#listeners.error.size > 0) {
          this.#emit("error", new SmsWsError("LISTENER_FAILED", `a "${name}" listener threw: ${describe(cause)}`, { cause }));
        } else {
          // Nobody to tell: rethrow outside the client so the bug is visible (like EventEmitter).
          queueMicrotask(() => {
            throw cause;
          });
        }
      }
    }
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * SmsWsClient: one logical subscription to the gateway, kept alive across sockets.
 *
 * Per socket: [getToken] -> open -> send auth (with the resume position when there is one) ->
 * auth_ok -> [replay -> resumed | resume_failed] -> live. When a socket goes away the close code
 * decides (close-codes.ts): reconnect after a full-jitter backoff, or stop for good. Every event
 * passes through the eventId window, so replays after a resume never reach the application twice.
 *
 * Token sockets: auth_ok carries the token's `exp`; before it the client fetches the next token
 * and sends `refresh` on the same socket (token-refresh.ts says when); `refresh_ok` moves `exp`.
 * A 4419 (token expired) is an ordinary reconnect: every connection starts with a fresh token.
 *
 * Listeners run synchronously inside the client's socket handlers and may call close(); every
 * step that follows an emit therefore re-checks that its connection is still the current one.
 */
import { backoffDelay } from "./backoff.js";
import { closeAction, HEARTBEAT_TIMEOUT_CLOSE } from "./close-codes.js";
import { EventIdWindow } from "./dedupe.js";
import { SmsWsError } from "./errors.js";
import { parseServerFrame } from "./frames.js";
import { partitionOf } from "./partitions.js";
import { backfill, fetchHistoryPage, type HistoryPage, type HistoryQuery } from "./history.js";
import { ItemQueue } from "./item-queue.js";
import { DEFAULTS, resolveOptions, type ClientOptions, type ResolvedOptions } from "./options.js";
import { routedUrl, tokenTenant } from "./routing.js";
import { abandonSocket, type WebSocketLike } from "./socket.js";
import { MIN_REFRESH_DELAY_MS, planRefresh } from "./token-refresh.js";
import { frames as watchFrames, WatchSet } from "./watch-set.js";
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
  /** What this socket authenticates with: the API key, or the token fetched for it. */
  readonly credential: string;
  /** The position(s) sent in this socket's auth message, if it asked to resume. */
  resumeFrom: StreamPosition[] | undefined;
  /** resumed or resume_failed already handled (or decided locally) for this socket. */
  resumeSettled: boolean;
  authenticated: boolean;
  /** The text of an auth_error frame; the close that follows carries the code. */
  authError: string | undefined;
  /** Token sockets: when the server will close it with 4419 (ms), from auth_ok or refresh_ok. */
  expMs: number | undefined;
  /** The next refresh (or retry of a failed getToken) while live. */
  refreshTimer: unknown;
  /** getToken failures in a row while refreshing; drives the retry backoff. */
  refreshFailures: number;
  /** Lower bound of the next refresh delay (see token-refresh.ts). */
  refreshFloorMs: number;
  /** The auth message was sent: watch frames may follow it. */
  authSent: boolean;
  /** One entry per watch/unwatch frame sent, in order; each watch_ok answers the oldest. */
  watchAnswers: (((count: number) => void) | undefined)[];
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
    backfilled: new Set(),
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
  /** The getToken call a connection attempt waits for; replaced or cleared when it is moot. */
  #pendingToken: object | undefined;
  /** Deadlines of getToken calls in flight, cleared when they settle or the client closes. */
  readonly #tokenDeadlines = new Set<unknown>();
  #lastFrameAt = 0;
  #epoch: string | undefined;
  #lastSeq: number | undefined;
  /**
   * Admin sockets on a partitioned stream (auth_ok with `epochs`): one epoch and last seq per
   * partition, in partition order; #epoch and #lastSeq are then unused.
   */
  #epochs: string[] | undefined;
  #seqs: (number | undefined)[] = [];
  /** Some earlier socket of this client was authenticated: later ones are reconnects. */
  #everAuthenticated = false;
  /** When the last authenticated socket went away; cleared once a later socket is live. */
  #disconnectedAt: number | undefined;
  /** Messages followed (a filter with messageIds); undefined: watch() is not available. */
  readonly #watched: WatchSet | undefined;

  constructor(options: ClientOptions) {
    this.#options = resolveOptions(options);
    this.#seen = new EventIdWindow(this.#options.dedupeWindow);
    const ids = this.#options.filter?.messageIds;
    this.#watched = ids === undefined ? undefined : new WatchSet(ids);
    const from = this.#options.resumeFrom;
    if (from?.length === 1) {
      this.#epoch = from[0]?.epoch;
      this.#lastSeq = from[0]?.seq;
    } else if (from !== undefined) {
      this.#epochs = from.map((p) => p.epoch);
      this.#seqs = from.map((p) => p.seq);
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

  /**
   * `{ epoch, seq }` to store and pass back as `resumeFrom`; undefined until both are known, and
   * on an admin client of a partitioned stream (see `positions`).
   */
  get position(): StreamPosition | undefined {
    return this.#epoch !== undefined && this.#lastSeq !== undefined ? { epoch: this.#epoch, seq: this.#lastSeq } : undefined;
  }

  /**
   * Where the client is, as a list to store and pass back as `resumeFrom`: `[position]` on one
   * stream; on a partitioned stream (admin) one position per partition, in partition order,
   * undefined until every partition has delivered an event (only then can the resume be exact).
   */
  get positions(): StreamPosition[] | undefined {
    const epochs = this.#epochs;
    if (epochs === undefined) {
      const one = this.position;
      return one && [one];
    }
    const out: StreamPosition[] = [];
    for (const [i, epoch] of epochs.entries()) {
      const seq = this.#seqs[i];
      if (seq === undefined) return undefined;
      out.push({ epoch, seq });
    }
    return out;
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

  /**
   * Follow these messages too (the client's filter must have `messageIds`, `[]` for none yet).
   * Resolves with the number of messages the server follows for this socket (`watch_ok`); when
   * no socket is live, or it drops before answering, with the client's own count: the set is
   * sent again with every new socket, so watches survive reconnects. Ids outside a token's
   * messageIds ceiling or beyond the server's limit are not followed (not counted).
   */
  watch(messageIds: readonly string[]): Promise<number> {
    return this.#changeWatch("watch", messageIds);
  }

  /** Stop following these messages; resolves like watch(). */
  unwatch(messageIds: readonly string[]): Promise<number> {
    return this.#changeWatch("unwatch", messageIds);
  }

  #changeWatch(type: "watch" | "unwatch", messageIds: readonly string[]): Promise<number> {
    const watched = this.#watched;
    if (watched === undefined) {
      return Promise.reject(new TypeError(`SmsWsClient.${type} needs a filter with messageIds (e.g. filter: { messageIds: [] })`));
    }
    if (!Array.isArray(messageIds) || !messageIds.every((id) => typeof id === "string" && id.length > 0)) {
      return Promise.reject(new TypeError(`SmsWsClient.${type}: messageIds must be an array of non-empty strings`));
    }
    const changed = type === "watch" ? watched.add(messageIds) : watched.remove(messageIds);
    const conn = this.#conn;
    if (changed.length === 0 || conn === undefined || !conn.authSent || this.#closed) return Promise.resolve(watched.size);
    return new Promise((resolve) => {
      const frames = watchFrames(type, changed);
      try {
        frames.forEach((frame, i) => {
          conn.socket.send(frame);
          conn.watchAnswers.push(i === frames.length - 1 ? resolve : undefined);
        });
      } catch {
        resolve(watched.size); // the socket is closing: the next one carries the set
      }
    });
  }

  /** Closes the socket (1000), stops reconnecting, ends every iterator. Idempotent. */
  close(): void {
    this.#shutdown(undefined);
  }

  // ---- socket lifecycle -------------------------------------------------------------------

  /** Starts a connection attempt: with a token client, fetches the token first. */
  #connect(): void {
    const credential = this.#options.credential;
    if (credential.kind === "apiKey") {
      this.#open(credential.apiKey);
      return;
    }
    const attempt = {};
    this.#pendingToken = attempt;
    this.#setState("connecting");
    this.#fetchToken().then(
      (token) => {
        if (this.#pendingToken !== attempt || this.#closed) return;
        this.#pendingToken = undefined;
        this.#open(token);
      },
      (cause: unknown) => {
        if (this.#pendingToken !== attempt || this.#closed) return;
        this.#pendingToken = undefined;
        const fatal = this.#options.reconnect === false;
        const error = new SmsWsError("TOKEN_FETCH_FAILED", `getToken failed: ${describe(cause)}`, { fatal, cause });
        if (fatal) {
          this.#shutdown(error);
          return;
        }
        this.#emitError(error);
        if (!this.#closed) this.#scheduleReconnect({});
      },
    );
  }

  /**
   * One call of getToken, as a promise that settles exactly once: rejects on a throw, a
   * rejection, something that is not a non-empty string, or no answer within tokenTimeoutMs.
   */
  #fetchToken(): Promise<string> {
    const credential = this.#options.credential;
    if (credential.kind !== "token") return Promise.reject(new Error("not a token client"));
    return new Promise<string>((resolve, reject) => {
      const timers = this.#options.timers;
      const deadline = timers.setTimeout(() => {
        this.#tokenDeadlines.delete(deadline);
        reject(new Error(`no answer within ${DEFAULTS.tokenTimeoutMs} ms`));
      }, DEFAULTS.tokenTimeoutMs);
      this.#tokenDeadlines.add(deadline);
      const settle = (): boolean => {
        if (!this.#tokenDeadlines.delete(deadline)) return false; // timed out, or the client closed
        timers.clearTimeout(deadline);
        return true;
      };
      let pending: Promise<string> | string;
      try {
        pending = credential.getToken();
      } catch (cause) {
        pending = Promise.reject(cause);
      }
      Promise.resolve(pending).then(
        (token: unknown) => {
          if (!settle()) return;
          if (typeof token === "string" && token.length > 0) resolve(token);
          else reject(new TypeError("getToken returned no token (expected a non-empty string)"));
        },
        (cause: unknown) => {
          if (settle()) reject(cause);
        },
      );
    });
  }

  #open(credential: string): void {
    let socket: WebSocketLike;
    const { tenantHint, tenantSlots, random, credential: auth } = this.#options;
    const url = routedUrl(this.#options.url, tenantHint ?? (auth.kind === "token" ? tokenTenant(credential) : undefined), tenantSlots, random);
    try {
      socket = new this.#options.WebSocket(url);
    } catch (cause) {
      // A bad URL (SyntaxError in browsers) will not get better by retrying.
      this.#shutdown(new SmsWsError("CONNECT_FAILED", `cannot open a WebSocket to ${this.#options.url}: ${describe(cause)}`, { fatal: true, cause }));
      return;
    }
    const conn: Connection = {
      socket,
      credential,
      resumeFrom: undefined,
      resumeSettled: false,
      authenticated: false,
      authError: undefined,
      expMs: undefined,
      refreshTimer: undefined,
      refreshFailures: 0,
      refreshFloorMs: MIN_REFRESH_DELAY_MS,
      authSent: false,
      watchAnswers: [],
    };
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
    const from = this.#options.resume ? this.positions : undefined;
    conn.resumeFrom = from;
    // A token goes where the seed protocol puts the key, so the server needs no new field.
    const auth: Record<string, unknown> = { type: "auth", apiKey: conn.credential };
    if (from) auth.resume = this.#epochs ? { positions: from } : from[0];
    // Followed messages beyond the auth message's share go right behind it, before any replay.
    const plan = this.#watched?.authPlan(this.#options.filter ?? {});
    const filter = plan?.filter ?? this.#options.filter;
    if (filter !== undefined) auth.filter = filter;
    try {
      conn.socket.send(JSON.stringify(auth));
      conn.authSent = true;
      for (const frame of plan?.frames ?? []) {
        conn.socket.send(frame);
        conn.watchAnswers.push(undefined);
      }
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
        if (conn.authenticated) return;
        if (frame.exp !== undefined && this.#options.credential.kind === "token") this.#scheduleRefresh(conn, frame.exp * 1000);
        this.#onAuthOk(conn, frame.epoch, frame.epochs);
        return;
      case "refresh_ok":
        if (conn.authenticated && this.#options.credential.kind === "token") this.#scheduleRefresh(conn, frame.exp * 1000);
        return;
      case "resumed":
        if (conn.resumeFrom === undefined || conn.resumeSettled) return;
        conn.resumeSettled = true;
        this.#disconnectedAt = undefined;
        const resumed = { replayed: frame.replayed, ...asked(conn.resumeFrom) };
        this.#publish("resumed", resumed, { kind: "resumed", ...resumed });
        if (this.#conn === conn) this.#setState("live");
        return;
      case "resume_failed":
        if (conn.resumeFrom === undefined || conn.resumeSettled) return;
        this.#resumeFailed(conn, frame.reason);
        return;
      case "event":
        this.#deliver(frame.event);
        return;
      case "watch_ok":
        conn.watchAnswers.shift()?.(frame.count);
        return;
    }
  }

  #onAuthOk(conn: Connection, epoch: string | undefined, epochs: string[] | undefined): void {
    if (conn.authenticated) return;
    conn.authenticated = true;
    this.#attempt = 0;
    if (epochs !== undefined) {
      // Admin socket on K partitions: a partition whose epoch changed (or a changed K) loses
      // its position, the others keep theirs.
      const old = this.#epochs;
      this.#seqs = epochs.map((e, i) => (old?.length === epochs.length && old[i] === e ? this.#seqs[i] : undefined));
      this.#epochs = epochs;
      this.#epoch = this.#lastSeq = undefined;
    } else if (epoch !== undefined && epoch !== this.#epoch) {
      // A new stream incarnation: sequences of the old one mean nothing in it.
      if (this.#epoch !== undefined) this.#lastSeq = undefined;
      this.#epoch = epoch;
      this.#epochs = undefined;
    }
    const isReconnect = this.#everAuthenticated;
    this.#everAuthenticated = true;
    if (conn.resumeFrom !== undefined) {
      // No epoch: this node has no durable stream, so no replay and no resumed/resume_failed.
      if (epoch === undefined && epochs === undefined) this.#resumeFailed(conn, "unavailable");
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
    const failure: ResumeFailure = { reason, ...asked(conn.resumeFrom) };
    if (this.#disconnectedAt !== undefined) failure.disconnectedAt = new Date(this.#disconnectedAt).toISOString();
    this.#disconnectedAt = undefined;
    this.#publish("resumeFailed", failure, { kind: "resumeFailed", ...failure });
    if (this.#conn === conn) this.#setState("live");
    if (reason === "retention" && this.#options.backfill && failure.from !== undefined) this.#backfill(failure.from);
  }

  /**
   * One page of stored events over HTTP (`GET /v1/events`) with this client's credential (a
   * fresh token from getToken for a token client): `{after}` (a position or a `next`), `{since}`,
   * or neither for the newest; `limit`; `filter` inside the credential's scope.
   */
  async history(query: HistoryQuery = {}): Promise<HistoryPage> {
    const fetchImpl = this.#options.fetch;
    if (fetchImpl === undefined) throw new SmsWsError("HISTORY_FAILED", "no fetch implementation: pass options.fetch");
    const credential = this.#options.credential;
    let secret: string;
    try {
      secret = credential.kind === "apiKey" ? credential.apiKey : await this.#fetchToken();
    } catch (cause) {
      throw new SmsWsError("TOKEN_FETCH_FAILED", `getToken failed: ${describe(cause)}`, { cause });
    }
    return fetchHistoryPage(fetchImpl, this.#options.historyUrl, secret, query);
  }

  /** After resume_failed (retention): recover what the stream still holds, report the rest. */
  #backfill(from: StreamPosition): void {
    void backfill((q) => this.history(q), from, (event) => {
      if (this.#closed || this.#seen.has(event.eventId)) return false;
      this.#deliver(event);
      return true;
    }).then((result) => {
      if (!this.#closed) this.#publish("backfilled", result, { kind: "backfilled", ...result });
    });
  }

  #deliver(event: SmsEvent): void {
    if (!this.#seen.add(event.eventId)) return; // a duplicate (typically replayed after a resume)
    const seq = event.seq;
    if (seq !== undefined) {
      if (this.#epochs === undefined) {
        if (this.#lastSeq === undefined || seq > this.#lastSeq) this.#lastSeq = seq;
      } else {
        const k = partitionOf(event.tenantId, this.#epochs.length);
        if ((this.#seqs[k] ?? -1) < seq) this.#seqs[k] = seq;
      }
    }
    this.#publish("event", event, { kind: "event", event });
  }

  /** A socket is gone (closed by the server or the network, or dropped by the watchdog). */
  #socketGone(conn: Connection, code: number, reason: string): void {
    this.#settleWatches(conn);
    this.#stopWatchdog();
    this.#stopRefresh(conn);
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
    // 4419 (token expired) asks for a fresh credential: #connect fetches one for every
    // connection anyway, so it is an ordinary reconnect (and resume).
    this.#scheduleReconnect(details);
  }

  #scheduleReconnect(details: Partial<StateChange>): void {
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

  // ---- token refresh -----------------------------------------------------------------------

  #scheduleRefresh(conn: Connection, expMs: number): void {
    this.#stopRefresh(conn);
    conn.expMs = expMs;
    conn.refreshFailures = 0;
    const plan = planRefresh(expMs, this.#options.now(), conn.refreshFloorMs, this.#options.random);
    conn.refreshFloorMs = plan.nextFloorMs;
    conn.refreshTimer = this.#options.timers.setTimeout(() => {
      conn.refreshTimer = undefined;
      this.#refresh(conn);
    }, plan.delayMs);
  }

  #stopRefresh(conn: Connection): void {
    if (conn.refreshTimer === undefined) return;
    this.#options.timers.clearTimeout(conn.refreshTimer);
    conn.refreshTimer = undefined;
  }

  /**
   * Fetches the next token and sends it on the same socket. The server answers refresh_ok
   * (which schedules the next refresh), or auth_error and a close the close-code table handles.
   * A failed getToken is retried with backoff until the token expires; after that the server's
   * 4419 leads to a reconnect, which asks getToken again.
   */
  #refresh(conn: Connection): void {
    if (this.#conn !== conn || this.#closed) return;
    this.#fetchToken().then(
      (token) => {
        if (this.#conn !== conn || this.#closed) return;
        try {
          conn.socket.send(JSON.stringify({ type: "refresh", token }));
        } catch {
          // the socket is closing under us; its close event decides what happens next
        }
      },
      (cause: unknown) => {
        if (this.#conn !== conn || this.#closed) return;
        this.#emitError(new SmsWsError("TOKEN_FETCH_FAILED", `getToken failed while refreshing: ${describe(cause)}`, { cause }));
        if (this.#conn !== conn || this.#closed) return; // an error listener closed the client
        const leftMs = (conn.expMs ?? 0) - this.#options.now();
        if (leftMs <= 0) return;
        const retryMs = backoffDelay(
          conn.refreshFailures++,
          { initialDelayMs: DEFAULTS.tokenRetryInitialDelayMs, maxDelayMs: DEFAULTS.tokenRetryMaxDelayMs },
          this.#options.random,
        );
        conn.refreshTimer = this.#options.timers.setTimeout(() => {
          conn.refreshTimer = undefined;
          this.#refresh(conn);
        }, Math.min(retryMs, leftMs));
      },
    );
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
    this.#pendingToken = undefined;
    for (const deadline of this.#tokenDeadlines) this.#options.timers.clearTimeout(deadline);
    this.#tokenDeadlines.clear();
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      this.#settleWatches(conn);
      this.#stopRefresh(conn);
      abandonSocket(conn.socket, 1000, "client closed", true);
    }
    this.#setState("closed", error ? { ...details, error } : details);
    if (error) this.#emitError(error);
    for (const queue of [...this.#queues]) queue.end(error);
    this.#queues.clear();
  }

  /** Watches a gone socket never answered resolve with the client's own count. */
  #settleWatches(conn: Connection): void {
    const answers = conn.watchAnswers.splice(0);
    for (const answer of answers) answer?.(this.#watched?.size ?? 0);
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

/** What a resumed/resumeFailed notice says the client asked for: `from`, or `positions` (K > 1). */
function asked(from: StreamPosition[] | undefined): { from?: StreamPosition; positions?: StreamPosition[] } {
  if (from === undefined) return {};
  return from.length === 1 && from[0] !== undefined ? { from: from[0] } : { positions: from };
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

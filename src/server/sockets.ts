/**
 * The node's sockets: what each carries, and every way the node writes to or closes one. A socket
 * is told why it is refused in one way only: refuse() sends `auth_error` with the refusal's
 * reason and closes with its code.
 */
import type { WebSocket } from "uWebSockets.js";
import type { Credential } from "../protocol/credential.js";
import type { Refusal } from "../protocol/refusal.js";
import type { TenantHint } from "../protocol/routing.js";
import { authErrorFrame } from "../protocol/server-messages.js";
import type { ReplaySocket } from "../resume/replay-socket.js";
import type { Feed, Scope } from "../scope/scope.js";
import { isNarrowing, type EventFilter } from "../scope/filter.js";
import { SocketFilter, type FilterLimits, type FilterSubscriptions, type WatchResult } from "../scope/socket-filter.js";
import type { VerifiedToken } from "../tokens/refresh-scope.js";
import type { FrameBudget } from "./frame-budget.js";
import { DerivedTopics } from "./derived-topics.js";
import type { DeliveryCounters } from "./delivery-counters.js";

export interface SocketData {
  readonly id: number;
  /** The client address (logs), and its key for per-address limits (IPv6 grouped by /64). */
  readonly ip: string;
  readonly ipKey: string;
  readonly openedAt: number;
  /** Counted by admission as waiting for authentication. */
  awaitingAuth: boolean;
  /** "rejecting": a failed auth waits out its delay (admission) before the answer. */
  state: "authenticating" | "rejecting" | "subscribing" | "authenticated" | "closed";
  /** The auth deadline, then (when rejecting) the delayed answer. */
  authTimer: NodeJS.Timeout | undefined;
  scope: Scope | undefined;
  feeds: readonly Feed[] | undefined;
  /** What the socket authenticated with; revocation and token expiry match on it. */
  credential: Credential | undefined;
  /** Set when the node closed the socket, so the close handler counts it under the right code. */
  closedBy: number | undefined;
  /** A narrowing filter (README.md, "Filters and watches"): the socket joins its filter's topics instead of its feeds'. */
  filter: SocketFilter | undefined;
  /** The load balancer's routing hint from `/ws?tenant=` (logged only; never decides the scope). */
  readonly tenantHint: TenantHint | undefined;
  /** What it may still send (frame-budget.ts); created at its first frame after auth. */
  budget?: FrameBudget;
  /** The token it last refreshed with, verified (a refresh flood of it costs no signature check). */
  refreshed?: VerifiedToken;
  /** The sum of its feeds' topic counters when it went live (DeliveryCounters: `delivered` without a per-socket counter). */
  liveAt: number | undefined;
}

export type Socket = WebSocket<SocketData>;

export class SocketRegistry {
  readonly #sockets = new Set<Socket>();
  /** Derived topics in use by filtered sockets; the topic publisher reads it per event. */
  readonly derived = new DerivedTopics();

  /** `counters`: snapshot at goLive, so the fleet view can tell what a socket was sent. */
  constructor(private readonly counters?: DeliveryCounters) {}

  get count(): number {
    return this.#sockets.size;
  }

  add(ws: Socket): void {
    this.#sockets.add(ws);
  }

  delete(ws: Socket): void {
    this.#sockets.delete(ws);
  }

  /** A snapshot, for walks that span timer ticks. */
  all(): Socket[] {
    return [...this.#sockets];
  }

  /** A live walk (closing the socket at hand while walking is safe). */
  [Symbol.iterator](): IterableIterator<Socket> {
    return this.#sockets.values();
  }

  /** Close with a code (the client gets a close frame). Safe on an already-closed socket. */
  close(ws: Socket, refusal: Refusal): void {
    const data = ws.getUserData();
    if (data.state === "closed") return;
    data.closedBy = refusal.code;
    ws.end(refusal.code, refusal.reason);
  }

  /** Tell the client why (`auth_error`), then close: the one way a socket is refused. */
  refuse(ws: Socket, refusal: Refusal): void {
    if (ws.getUserData().state === "closed") return;
    ws.cork(() => {
      ws.send(authErrorFrame(refusal.reason), false, false);
      this.close(ws, refusal);
    });
  }

  /** Send a text frame to one socket from outside a uWS handler (corked: one syscall). */
  send(ws: Socket, frame: string): void {
    if (ws.getUserData().state === "closed") return;
    ws.cork(() => ws.send(frame, false, false));
  }

  /** Frames from `from` on, under one cork, while the buffer stays under the budget. */
  sendMany(ws: Socket, frames: readonly string[], from: number, budgetBytes: number): number {
    if (ws.getUserData().state === "closed") return from;
    let i = from;
    ws.cork(() => {
      for (; i < frames.length && ws.getBufferedAmount() < budgetBytes; i++) ws.send(frames[i] as string, false, false);
    });
    return i;
  }

  /** Subscribe an authenticated socket to its live topics (after any replay has been sent). */
  goLive(ws: Socket): void {
    const data = ws.getUserData();
    if (data.state === "closed" || data.feeds === undefined) return;
    const counters = this.counters;
    if (counters !== undefined) data.liveAt = counters.sum(data.feeds);
    if (data.filter !== undefined) return data.filter.goLive(this.#filterSubscriptions(ws));
    for (const feed of data.feeds) ws.subscribe(feed.topic);
  }

  /** watch / unwatch on a socket with a messageIds filter: its topics change at once if live. */
  watch(ws: Socket, messageIds: readonly string[], remove: boolean): WatchResult {
    const filter = ws.getUserData().filter as SocketFilter;
    const port = this.#filterSubscriptions(ws);
    return remove ? filter.unwatch(messageIds, port) : filter.watch(messageIds, port);
  }

  /**
   * A refreshed token's filter ceiling (W-8): the socket's filter narrows to it, at once if
   * live; a socket that had no filter gets one and moves from its feed topics to the filter's.
   * Throws ClientProtocolError (4400) when the result needs more topics than `limits` allow.
   */
  narrow(ws: Socket, ceiling: EventFilter, limits: FilterLimits): void {
    const data = ws.getUserData();
    if (!isNarrowing(ceiling) || data.feeds === undefined || data.state === "closed") return;
    if (data.filter !== undefined) return data.filter.narrow(ceiling, this.#filterSubscriptions(ws));
    const filter = new SocketFilter(ceiling, ceiling, data.feeds, limits);
    data.filter = filter;
    // Live already (not replaying): leave the feed topics for the filter's.
    if (!data.feeds.some((f) => ws.isSubscribed(f.topic))) return;
    for (const feed of data.feeds) ws.unsubscribe(feed.topic);
    filter.goLive(this.#filterSubscriptions(ws));
  }

  /** On close: the socket's derived topics leave the bookkeeping (uWS has dropped them). */
  releaseFilter(ws: Socket): void {
    ws.getUserData().filter?.release({ subscribe: () => {}, unsubscribe: (feedTopic, t) => this.derived.remove(feedTopic, t) });
  }

  #filterSubscriptions(ws: Socket): FilterSubscriptions {
    return {
      subscribe: (feedTopic, t) => {
        if (ws.getUserData().state === "closed") return;
        ws.subscribe(t.topic);
        this.derived.add(feedTopic, t);
      },
      unsubscribe: (feedTopic, t) => {
        if (ws.getUserData().state === "closed") return;
        ws.unsubscribe(t.topic);
        this.derived.remove(feedTopic, t);
      },
    };
  }

  /**
   * Refuse every authenticated socket whose credential matches: a scan of all sockets, which a
   * revocation (rare) can afford; an index per credential would cost memory on every socket.
   */
  refuseWhere(matches: (data: SocketData) => boolean, refusal: Refusal): number {
    let n = 0;
    for (const ws of this.#sockets) {
      const data = ws.getUserData();
      if (data.state !== "subscribing" && data.state !== "authenticated") continue;
      if (!matches(data)) continue;
      this.refuse(ws, refusal);
      n++;
    }
    return n;
  }

  /** Close every socket fed by this topic, so that its client reconnects and resumes. */
  closeTopic(topic: string, refusal: Refusal): void {
    for (const ws of this.#sockets) {
      const feeds = ws.getUserData().feeds;
      if (feeds !== undefined && feeds.some((f) => f.topic === topic)) this.close(ws, refusal);
    }
  }

  /** The socket as resume sees it (only sockets that resume pay for this object). */
  replaySocket(ws: Socket, owner: ReplaySocket["owner"]): ReplaySocket {
    const data = ws.getUserData();
    return {
      id: data.id,
      feeds: data.feeds ?? [],
      owner,
      allows: (event) => data.filter?.allows(event) ?? true,
      isClosed: () => data.state === "closed",
      send: (frame) => this.send(ws, frame),
      sendMany: (frames, from, budget) => this.sendMany(ws, frames, from, budget),
      goLive: () => this.goLive(ws),
      close: (refusal) => this.close(ws, refusal),
    };
  }
}

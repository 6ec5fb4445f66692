/**
 * One socket's filter over its life: the effective filter (request intersected with the token's
 * ceiling), the topics it compiles to on each of the socket's feeds, and watch/unwatch, which
 * change the messageIds set and exactly the topics of the ids added or removed. Plain
 * bookkeeping: the socket's subscriptions go through a port the server implements.
 */
import { ClientProtocolError } from "../errors.js";
import { CloseCode } from "../client/close-codes.js";
import type { SmsEvent } from "../events/event.js";
import { filterAllows, intersectFilters, type EventFilter } from "./filter.js";
import { filterTopics, messageTopics, pingTopic, topicsPerMessage, type FilterTopic } from "./filter-topics.js";
import type { Feed } from "./scope.js";

/** Subscribes the socket to one topic of one of its feeds (and keeps the node's bookkeeping). */
export interface FilterSubscriptions {
  subscribe(feedTopic: string, topic: FilterTopic): void;
  unsubscribe(feedTopic: string, topic: FilterTopic): void;
}

export interface FilterLimits {
  /** Most message ids one socket follows (WATCH_MAX_MESSAGE_IDS). */
  readonly maxMessageIds: number;
  /** Most topics one socket's filter may compile to, over all its feeds (FILTER_MAX_TOPICS). */
  readonly maxTopics: number;
}

/** What a watch or unwatch did: the socket's watched-id count after it, and ids not added. */
export interface WatchResult {
  readonly count: number;
  /** Ids outside the token's messageIds ceiling or beyond the limits: not added, not counted. */
  readonly ignored: number;
}

/** How many topics the filter costs a socket with these feeds. */
export function topicCount(filter: EventFilter, feeds: readonly Feed[]): number {
  if (filter.messageIds === undefined) return feeds.length * filterTopics("", filter).length;
  return feeds.length * filter.messageIds.size * topicsPerMessage(filter);
}

export class SocketFilter {
  #filter: EventFilter;
  #ceiling: EventFilter;
  #live = false;

  /**
   * Throws ClientProtocolError (4400) when the filter would need more topics than allowed (a
   * client asking for too much is told so, never silently widened or cut).
   */
  constructor(
    filter: EventFilter,
    ceiling: EventFilter,
    private readonly feeds: readonly Feed[],
    private readonly limits: FilterLimits,
  ) {
    this.#check(filter);
    this.#filter = filter;
    this.#ceiling = ceiling;
  }

  #check(filter: EventFilter): void {
    const ids = filter.messageIds?.size ?? 0;
    if (ids > this.limits.maxMessageIds) {
      throw new ClientProtocolError(CloseCode.BadRequest, `filter.messageIds: at most ${this.limits.maxMessageIds} ids per socket`);
    }
    const topics = topicCount(filter, this.feeds);
    if (topics > this.limits.maxTopics) {
      throw new ClientProtocolError(CloseCode.BadRequest, `filter needs ${topics} topics, more than the ${this.limits.maxTopics} allowed: ask for fewer messageIds or statuses`);
    }
  }

  get filter(): EventFilter {
    return this.#filter;
  }

  /** The token's ceiling: what the socket may ever receive (narrowed by refresh, never widened). */
  get ceiling(): EventFilter {
    return this.#ceiling;
  }

  /** The uWS topics one watched id costs this socket (over all its feeds): what a watch frame is charged per id. */
  get topicsPerId(): number {
    return this.feeds.length * topicsPerMessage(this.#filter);
  }

  /** Whether the socket may follow messages (it authenticated with a messageIds filter). */
  get watches(): boolean {
    return this.#filter.messageIds !== undefined;
  }

  allows(event: SmsEvent): boolean {
    return filterAllows(this.#filter, event);
  }

  /** Join the filter's topics (once, after any replay) and the heartbeat topic. */
  goLive(port: FilterSubscriptions): void {
    if (this.#live) return;
    this.#live = true;
    for (const feed of this.feeds) for (const t of filterTopics(feed.topic, this.#filter)) port.subscribe(feed.topic, t);
    const broadcast = this.feeds.at(-1);
    if (broadcast !== undefined) port.subscribe(broadcast.topic, { topic: pingTopic(broadcast.topic), family: undefined });
  }

  /** Leave every topic in the node's bookkeeping (uWS drops a closed socket's subscriptions itself). */
  release(port: FilterSubscriptions): void {
    if (!this.#live) return;
    this.#live = false;
    for (const feed of this.feeds) for (const t of filterTopics(feed.topic, this.#filter)) port.unsubscribe(feed.topic, t);
    const broadcast = this.feeds.at(-1);
    if (broadcast !== undefined) port.unsubscribe(broadcast.topic, { topic: pingTopic(broadcast.topic), family: undefined });
  }

  watch(ids: readonly string[], port: FilterSubscriptions): WatchResult {
    const current = this.#filter.messageIds;
    if (current === undefined) throw new Error("watch on a socket without a messageIds filter");
    const next = new Set(current);
    const perId = this.feeds.length * topicsPerMessage(this.#filter);
    const maxIds = Math.min(this.limits.maxMessageIds, perId === 0 ? Infinity : Math.floor(this.limits.maxTopics / perId));
    const added: string[] = [];
    let ignored = 0;
    for (const id of ids) {
      if (next.has(id)) continue;
      if ((this.#ceiling.messageIds !== undefined && !this.#ceiling.messageIds.has(id)) || next.size >= maxIds) {
        ignored++;
        continue;
      }
      next.add(id);
      added.push(id);
    }
    this.#filter = Object.freeze({ ...this.#filter, messageIds: next });
    if (this.#live) for (const id of added) this.#each(id, (f, t) => port.subscribe(f, t));
    return { count: next.size, ignored };
  }

  unwatch(ids: readonly string[], port: FilterSubscriptions): WatchResult {
    const current = this.#filter.messageIds;
    if (current === undefined) throw new Error("unwatch on a socket without a messageIds filter");
    const next = new Set(current);
    const removed = ids.filter((id) => next.delete(id));
    if (this.#live) for (const id of removed) this.#each(id, (f, t) => port.unsubscribe(f, t));
    this.#filter = Object.freeze({ ...this.#filter, messageIds: next });
    return { count: next.size, ignored: 0 };
  }

  /**
   * A refreshed token's ceiling (W-8): the socket's ceiling becomes its intersection with
   * `ceiling`, and its filter the filter under that, so ids, statuses and types outside it are
   * dropped and their topics left; nothing is ever added. Throws ClientProtocolError (4400) when
   * the narrower filter would need more topics than allowed (fewer statuses can split one
   * message topic into several), leaving the socket as it was.
   */
  narrow(ceiling: EventFilter, port: FilterSubscriptions): void {
    const nextCeiling = intersectFilters(this.#ceiling, ceiling);
    const next = intersectFilters(this.#filter, nextCeiling);
    this.#check(next);
    if (this.#live) {
      for (const feed of this.feeds) {
        const before = filterTopics(feed.topic, this.#filter);
        const after = filterTopics(feed.topic, next);
        const kept = new Set(after.map((t) => t.topic));
        const had = new Set(before.map((t) => t.topic));
        for (const t of before) if (!kept.has(t.topic)) port.unsubscribe(feed.topic, t);
        for (const t of after) if (!had.has(t.topic)) port.subscribe(feed.topic, t);
      }
    }
    this.#ceiling = nextCeiling;
    this.#filter = next;
  }

  #each(id: string, fn: (feedTopic: string, t: FilterTopic) => void): void {
    for (const feed of this.feeds) for (const t of messageTopics(feed.topic, id, this.#filter)) fn(feed.topic, t);
  }
}

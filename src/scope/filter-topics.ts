/**
 * Filters as uWS topics (README.md, "Filters and watches"): delivery stays a topic publish, never a loop over
 * sockets. Each event of a feed is published to the feed topic and to a bounded set of derived
 * topics of that feed (only those with subscribers); a filtered socket subscribes to the topics
 * its filter compiles to instead of the feed topic. The rule both sides keep: every event the
 * filter allows is published to exactly one of the socket's topics, and every other event to
 * none of them (test/unit/filter-topics.test.ts checks it on random filters and events).
 *
 * Derived topics of feed topic F (F never holds "|": tenant and app ids cannot; nor do message
 * ids, so the first "|" after F and after a message id always delimits):
 *
 *   family  topic                      carries
 *   t       F|t:<type>                 every event of that type
 *   s       F|s:<status>               sms_status events with that status
 *   m       F|m:<messageId>            every event of that message
 *   mt      F|m:<messageId>|t:<type>   events of that message and type
 *   ms      F|m:<messageId>|s:<status> sms_status events of that message with that status
 *
 * So one event costs at most five derived publishes per feed, and only for the families some
 * socket of that feed uses. Every combination of the three filter fields compiles; none needs a
 * per-socket check.
 */
import type { SmsEvent } from "../events/event.js";
import { EVENT_TYPES, isNarrowing, type EventFilter, type EventType } from "./filter.js";

export const DERIVED_FAMILIES = ["t", "s", "m", "mt", "ms"] as const;
export type DerivedFamily = (typeof DERIVED_FAMILIES)[number];

/** A topic a filtered socket subscribes to; `family` undefined: the feed topic itself. */
export interface FilterTopic {
  readonly topic: string;
  readonly family: DerivedFamily | undefined;
}

const typeTopic = (feed: string, type: string): string => `${feed}|t:${type}`;
const statusTopic = (feed: string, status: string): string => `${feed}|s:${status}`;
const messageTopic = (feed: string, id: string): string => `${feed}|m:${id}`;
const messageTypeTopic = (feed: string, id: string, type: string): string => `${feed}|m:${id}|t:${type}`;
const messageStatusTopic = (feed: string, id: string, status: string): string => `${feed}|m:${id}|s:${status}`;

/**
 * The heartbeat of filtered sockets: they are not on their tenant's broadcast topic (it carries
 * events), so the ping goes to this topic of it as well, when it has subscribers.
 */
export function pingTopic(broadcastTopic: string): string {
  return `${broadcastTopic}|ping`;
}

/**
 * The topics of one feed that a socket with this filter subscribes to. A filter that narrows
 * nothing compiles to the feed topic itself (the unfiltered path). Pure; the order is stable.
 */
export function filterTopics(feedTopic: string, filter: EventFilter): FilterTopic[] {
  if (!isNarrowing(filter)) return [{ topic: feedTopic, family: undefined }];
  const types = filter.types ?? new Set<EventType>(EVENT_TYPES);
  const wantsStatus = types.has("sms_status");
  const wantsInbound = types.has("sms_inbound");
  const out: FilterTopic[] = [];
  if (filter.messageIds === undefined) {
    if (wantsStatus && filter.statuses === undefined && wantsInbound) return [{ topic: feedTopic, family: undefined }];
    if (wantsStatus) {
      if (filter.statuses === undefined) out.push({ topic: typeTopic(feedTopic, "sms_status"), family: "t" });
      else for (const s of filter.statuses) out.push({ topic: statusTopic(feedTopic, s), family: "s" });
    }
    if (wantsInbound) out.push({ topic: typeTopic(feedTopic, "sms_inbound"), family: "t" });
    return out;
  }
  for (const id of filter.messageIds) out.push(...messageTopics(feedTopic, id, filter, wantsStatus, wantsInbound));
  return out;
}

/** The topics of one watched message (a watch adds or removes exactly these). */
export function messageTopics(feedTopic: string, id: string, filter: EventFilter, wantsStatus?: boolean, wantsInbound?: boolean): FilterTopic[] {
  const types = filter.types ?? new Set<EventType>(EVENT_TYPES);
  const status = wantsStatus ?? types.has("sms_status");
  const inbound = wantsInbound ?? types.has("sms_inbound");
  if (status && inbound && filter.statuses === undefined) return [{ topic: messageTopic(feedTopic, id), family: "m" }];
  const out: FilterTopic[] = [];
  if (status) {
    if (filter.statuses === undefined) out.push({ topic: messageTypeTopic(feedTopic, id, "sms_status"), family: "mt" });
    else for (const s of filter.statuses) out.push({ topic: messageStatusTopic(feedTopic, id, s), family: "ms" });
  }
  if (inbound) out.push({ topic: messageTypeTopic(feedTopic, id, "sms_inbound"), family: "mt" });
  return out;
}

/** How many topics of one feed a message id costs under this filter (for the per-socket cap). */
export function topicsPerMessage(filter: EventFilter): number {
  const types = filter.types ?? new Set<EventType>(EVENT_TYPES);
  const status = types.has("sms_status");
  const inbound = types.has("sms_inbound");
  if (status && inbound && filter.statuses === undefined) return 1;
  return (status ? (filter.statuses?.size ?? 1) : 0) + (inbound ? 1 : 0);
}

/** Which derived families have subscribers on a feed; the publisher skips the others. */
export type FamiliesInUse = Readonly<Record<DerivedFamily, number>>;

/**
 * The derived topics an event of this feed is published to, limited to the families in use
 * (all families when `inUse` is absent). The feed topic itself is not included.
 */
export function derivedTopicsOf(feedTopic: string, event: SmsEvent, inUse?: FamiliesInUse): string[] {
  const out: string[] = [];
  const status = event.type === "sms_status" ? event.status : undefined;
  if (inUse === undefined || inUse.t > 0) out.push(typeTopic(feedTopic, event.type));
  if (status !== undefined && (inUse === undefined || inUse.s > 0)) out.push(statusTopic(feedTopic, status));
  if (inUse === undefined || inUse.m > 0) out.push(messageTopic(feedTopic, event.messageId));
  if (inUse === undefined || inUse.mt > 0) out.push(messageTypeTopic(feedTopic, event.messageId, event.type));
  if (status !== undefined && (inUse === undefined || inUse.ms > 0)) out.push(messageStatusTopic(feedTopic, event.messageId, status));
  return out;
}

/**
 * Server-side filters (README.md, "Filters and watches"): a socket, a history request or an SSE stream may
 * narrow what it receives inside its scope, never widen it. A filter is a value: each present
 * field narrows, an absent field does not. A token's `filter` claim is a ceiling: what a client
 * asks for is intersected with it.
 */
import { ClientProtocolError } from "../errors.js";
import { CloseCode } from "../client/close-codes.js";
import { ID_PATTERN, type SmsEvent } from "../events/event.js";

/** Size limits of a filter's lists (auth message, query, token claim); longer is refused. */
export const FILTER_LIMITS = Object.freeze({
  types: 8,
  statuses: 32,
  messageIds: 100,
  /** Longest string in any list. */
  itemLength: 128,
});

export const EVENT_TYPES = ["sms_status", "sms_inbound"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventFilter {
  /** Event types received; absent: both. */
  readonly types?: ReadonlySet<EventType>;
  /** Statuses of sms_status events received (inbound events are unaffected); absent: all. */
  readonly statuses?: ReadonlySet<string>;
  /** Only events of these messages (both types); absent: all. Empty: none yet (watch mode). */
  readonly messageIds?: ReadonlySet<string>;
}

/** The filter that narrows nothing. */
export const NO_FILTER: EventFilter = Object.freeze({});

function bad(reason: string): ClientProtocolError {
  return new ClientProtocolError(CloseCode.BadRequest, reason);
}

function list(value: unknown, field: string, limit: number, allowEmpty: boolean): string[] {
  if (!Array.isArray(value) || value.length > limit) throw bad(`filter.${field} must be an array of at most ${limit} strings`);
  if (value.length === 0 && !allowEmpty) throw bad(`filter.${field} must not be empty (leave it out to receive all)`);
  for (const item of value) {
    if (typeof item !== "string" || item.length === 0 || item.length > FILTER_LIMITS.itemLength) {
      throw bad(`filter.${field} must hold strings of 1 to ${FILTER_LIMITS.itemLength} characters`);
    }
  }
  return value as string[];
}

/**
 * Parse a filter from a client (auth message, query parameters turned into lists, token claim).
 * Throws ClientProtocolError (4400) saying what is wrong; unknown fields are refused, since a
 * misspelt field would silently not narrow.
 */
export function parseFilter(value: unknown): EventFilter {
  if (value === undefined || value === null) return NO_FILTER;
  if (typeof value !== "object" || Array.isArray(value)) throw bad("filter must be an object {types?, statuses?, messageIds?}");
  const o = value as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (field !== "types" && field !== "statuses" && field !== "messageIds") throw bad(`filter has an unknown field "${field.slice(0, 32)}"`);
  }
  const out: { types?: ReadonlySet<EventType>; statuses?: ReadonlySet<string>; messageIds?: ReadonlySet<string> } = {};
  if (o.types !== undefined) {
    const types = list(o.types, "types", EVENT_TYPES.length, false);
    for (const t of types) if (!(EVENT_TYPES as readonly string[]).includes(t)) throw bad(`filter.types: unknown type "${t.slice(0, 32)}"`);
    out.types = new Set(types as EventType[]);
  }
  if (o.statuses !== undefined) out.statuses = new Set(list(o.statuses, "statuses", FILTER_LIMITS.statuses, false));
  if (o.messageIds !== undefined) {
    const ids = list(o.messageIds, "messageIds", FILTER_LIMITS.messageIds, true);
    for (const id of ids) if (!ID_PATTERN.test(id)) throw bad(`filter.messageIds: "${id.slice(0, 32)}" is not a message id`);
    out.messageIds = new Set(ids);
  }
  return Object.freeze(out);
}

function intersect<T>(a: ReadonlySet<T> | undefined, b: ReadonlySet<T> | undefined): ReadonlySet<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return new Set([...a].filter((x) => b.has(x)));
}

/** What a socket may receive when it asks for `requested` under the ceiling `ceiling`. */
export function intersectFilters(requested: EventFilter, ceiling: EventFilter): EventFilter {
  const types = intersect(requested.types, ceiling.types);
  const statuses = intersect(requested.statuses, ceiling.statuses);
  const messageIds = intersect(requested.messageIds, ceiling.messageIds);
  return Object.freeze({
    ...(types === undefined ? {} : { types }),
    ...(statuses === undefined ? {} : { statuses }),
    ...(messageIds === undefined ? {} : { messageIds }),
  });
}

/** Whether the filter lets the event through (the scope is checked elsewhere). */
export function filterAllows(filter: EventFilter, event: SmsEvent): boolean {
  if (filter.types !== undefined && !filter.types.has(event.type)) return false;
  if (filter.statuses !== undefined && event.type === "sms_status" && !filter.statuses.has(event.status)) return false;
  if (filter.messageIds !== undefined && !filter.messageIds.has(event.messageId)) return false;
  return true;
}

/** Whether the filter narrows anything. */
export function isNarrowing(filter: EventFilter): boolean {
  return filter.types !== undefined || filter.statuses !== undefined || filter.messageIds !== undefined;
}

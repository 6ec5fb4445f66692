/**
 * What the console has seen, in memory and bounded: the events in feed order (oldest first),
 * each message's events (its timeline) and each phone number's inbound messages (its
 * conversation). Events are kept once per eventId, whatever path brought them (live, replay
 * after a resume, "load earlier"), so the views can never show one twice.
 */
import type { SmsEvent, SmsInboundEvent } from "../client/index.js";

/** Most events kept; a newer one pushes the oldest out, and "load earlier" stops at it. */
export const MAX_EVENTS = 5000;

export interface StoreChange {
  /** Events that were not known yet, in the order given. */
  readonly added: SmsEvent[];
  /** Events pushed out to stay within the bound (oldest first). */
  readonly evicted: SmsEvent[];
}

export interface TimelineStep {
  readonly event: SmsEvent;
  /** Time since the previous step, ms; undefined for the first or an unparseable timestamp. */
  readonly sincePreviousMs: number | undefined;
}

export interface ConversationSummary {
  readonly number: string;
  readonly count: number;
  readonly lastTimestamp: string;
}

const byTime = (a: SmsEvent, b: SmsEvent): number =>
  a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : (a.seq ?? 0) - (b.seq ?? 0);

export class EventStore {
  readonly #capacity: number;
  /** Feed order, oldest first: live events are appended, earlier ones prepended. */
  #events: SmsEvent[] = [];
  readonly #ids = new Set<string>();
  readonly #byMessage = new Map<string, SmsEvent[]>();
  readonly #byNumber = new Map<string, SmsInboundEvent[]>();

  constructor(capacity: number = MAX_EVENTS) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#events.length;
  }

  /** Room left for earlier events. */
  get room(): number {
    return this.#capacity - this.#events.length;
  }

  has(eventId: string): boolean {
    return this.#ids.has(eventId);
  }

  /** The oldest event in feed order (where "load earlier" continues from). */
  oldest(): SmsEvent | undefined {
    return this.#events[0];
  }

  /** Newer events (live or replayed), oldest first; the oldest known ones make room. */
  addNewer(events: readonly SmsEvent[]): StoreChange {
    const added = events.filter((e) => this.#remember(e));
    this.#events.push(...added);
    const evicted = this.#events.length > this.#capacity ? this.#events.splice(0, this.#events.length - this.#capacity) : [];
    for (const e of evicted) this.#forget(e);
    return { added, evicted };
  }

  /** Earlier events (from history), oldest first; only the newest ones that fit are kept. */
  addOlder(events: readonly SmsEvent[]): StoreChange {
    const fresh = events.filter((e) => !this.#ids.has(e.eventId));
    const added = fresh.slice(Math.max(0, fresh.length - this.room)).filter((e) => this.#remember(e));
    this.#events = [...added, ...this.#events];
    return { added, evicted: [] };
  }

  clear(): void {
    this.#events = [];
    this.#ids.clear();
    this.#byMessage.clear();
    this.#byNumber.clear();
  }

  /** Every event of one message, by time, with the time between consecutive ones. */
  timeline(messageId: string): TimelineStep[] {
    const events = this.#byMessage.get(messageId) ?? [];
    return events.map((event, i) => {
      const previous = events[i - 1];
      const gap = previous === undefined ? Number.NaN : Date.parse(event.timestamp) - Date.parse(previous.timestamp);
      return { event, sincePreviousMs: Number.isFinite(gap) ? gap : undefined };
    });
  }

  /** Phone numbers that sent inbound messages, the most recently active first. */
  conversations(): ConversationSummary[] {
    return [...this.#byNumber]
      .map(([number, events]) => ({ number, count: events.length, lastTimestamp: (events[events.length - 1] as SmsInboundEvent).timestamp }))
      .sort((a, b) => (a.lastTimestamp < b.lastTimestamp ? 1 : a.lastTimestamp > b.lastTimestamp ? -1 : 0));
  }

  /** Inbound messages from one number, by time. */
  conversation(number: string): readonly SmsInboundEvent[] {
    return this.#byNumber.get(number) ?? [];
  }

  #remember(event: SmsEvent): boolean {
    if (this.#ids.has(event.eventId)) return false;
    this.#ids.add(event.eventId);
    insertSorted(this.#byMessage, event.messageId, event);
    if (event.type === "sms_inbound") insertSorted(this.#byNumber, event.from, event);
    return true;
  }

  #forget(event: SmsEvent): void {
    this.#ids.delete(event.eventId);
    removeFrom(this.#byMessage, event.messageId, event);
    if (event.type === "sms_inbound") removeFrom(this.#byNumber, event.from, event);
  }
}

function insertSorted<E extends SmsEvent>(map: Map<string, E[]>, key: string, event: E): void {
  const list = map.get(key) ?? [];
  list.push(event);
  // Lists are short (one message's statuses, one number's texts) and mostly already in order.
  if (list.length > 1 && byTime(list[list.length - 2] as E, event) > 0) list.sort(byTime);
  map.set(key, list);
}

function removeFrom<E extends SmsEvent>(map: Map<string, E[]>, key: string, event: E): void {
  const list = map.get(key);
  if (list === undefined) return;
  const rest = list.filter((e) => e !== event);
  if (rest.length === 0) map.delete(key);
  else map.set(key, rest);
}

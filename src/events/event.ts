/**
 * The two event shapes of the client protocol (seed document), plus `eventId` and `seq`.
 * One validator serves both the node (bus payloads) and the publisher (producer input).
 */
import { InvalidEventError } from "../errors.js";

export type EventKind = "status" | "inbound";

/** Known statuses; any other string passes through (the gateway does not restrict them). */
export type SmsStatus = "queued" | "sending" | "sent" | "delivered" | "failed" | (string & {});

/** An outbound message changed status. */
export interface SmsStatusEvent {
  type: "sms_status";
  /** Unique per event; clients de-duplicate on it. */
  eventId: string;
  messageId: string;
  appId: string;
  tenantId: string;
  status: SmsStatus;
  rcMessageId?: string;
  error?: string;
  /** ISO 8601, as produced upstream. */
  timestamp: string;
  /** Stream sequence (durable path only): increasing over the whole stream, with gaps. */
  seq?: number;
}

/** An inbound SMS was received. `appId` is absent for tenant-wide inbound messages. */
export interface SmsInboundEvent {
  type: "sms_inbound";
  eventId: string;
  messageId: string;
  from: string;
  to: string;
  body: string;
  rcMessageId?: string;
  tenantId: string;
  appId?: string;
  timestamp: string;
  seq?: number;
}

export type SmsEvent = SmsStatusEvent | SmsInboundEvent;

/** Every id (eventId, messageId, tenantId, appId): subject-token safe, log safe, bounded. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** App token of tenant-wide events (inbound SMS not bound to one app). */
export const TENANT_WIDE_APP = "_";

/**
 * Longest value of each string field, in UTF-16 code units (JavaScript `length`; an emoji
 * counts 2). Caps bound what one producer bug or one hostile producer costs every socket; they
 * are generous for real traffic: E.164 numbers are at most 16 characters and alphanumeric
 * sender ids 11, a 10-part concatenated SMS is about 1 600 characters, RCS text about 3 000.
 * Longer: rejected as `too_large`.
 */
export const EVENT_FIELD_MAX_LENGTH = {
  eventId: 64,
  messageId: 64,
  tenantId: 64,
  appId: 64,
  status: 64,
  /** Carrier-assigned: not held to ID_PATTERN, only to this cap and the text rules. */
  rcMessageId: 128,
  error: 512,
  from: 64,
  to: 64,
  body: 4096,
  timestamp: 40,
} as const;

/**
 * Largest bus payload worth decoding. A valid event is far below it (all caps at 3 UTF-8 bytes
 * per code unit come to about 16 KiB); the rest leaves room for fields the node drops.
 */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * Characters refused in every string field except `body`: C0 controls, DEL, C1 controls, and the
 * bidi embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) that make a value read
 * differently from what it is ("Trojan Source") in dashboards, terminals and logs.
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export const kindOfType = { sms_status: "status", sms_inbound: "inbound" } as const satisfies Record<
  SmsEvent["type"],
  EventKind
>;

type Fields = Record<string, unknown>;
type Field = keyof typeof EVENT_FIELD_MAX_LENGTH;

function present(o: Fields, field: Field): string {
  const v = o[field];
  if (typeof v !== "string") throw new InvalidEventError("missing_field", `${field} must be a string`);
  if (v.length > EVENT_FIELD_MAX_LENGTH[field]) {
    throw new InvalidEventError("too_large", `${field} is longer than ${EVENT_FIELD_MAX_LENGTH[field]} characters`);
  }
  return v;
}

function safe(field: Field, v: string): string {
  if (UNSAFE_TEXT.test(v)) throw new InvalidEventError("bad_value", `${field} contains a control or bidi-override character`);
  return v;
}

/** A non-empty string field within its cap, without control or bidi characters. */
function required(o: Fields, field: Field): string {
  const v = o[field];
  if (typeof v !== "string" || v.length === 0) {
    throw new InvalidEventError("missing_field", `${field} must be a non-empty string`);
  }
  return safe(field, present(o, field));
}

function optional(o: Fields, field: Field): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new InvalidEventError("missing_field", `${field} must be a string when present`);
  return safe(field, present(o, field));
}

function id(o: Fields, field: Field): string {
  const v = o[field];
  if (typeof v !== "string" || v.length === 0) {
    throw new InvalidEventError("missing_field", `${field} must be a non-empty string`);
  }
  present(o, field);
  if (!ID_PATTERN.test(v)) throw new InvalidEventError("bad_id", `${field} must match ${ID_PATTERN}`);
  return v;
}

// The last timestamp parsed: validation parses it, the node then reads the same value for its
// fan-out latency (one Date.parse per event instead of two; events of one burst often share it).
let lastTimestamp = "";
let lastTimestampMs = Number.NaN;

/** Date.parse of an event timestamp (NaN when it does not parse), remembering the last one. */
export function timestampMs(v: string): number {
  if (v !== lastTimestamp) {
    lastTimestampMs = Date.parse(v);
    lastTimestamp = v;
  }
  return lastTimestampMs;
}

function timestamp(o: Fields): string {
  const v = required(o, "timestamp");
  if (Number.isNaN(timestampMs(v))) throw new InvalidEventError("bad_value", "timestamp is not a date (ISO 8601 expected)");
  return v;
}

/**
 * The SMS text is relayed as sent: newlines, tabs, right-to-left text and its bidi controls are
 * all legitimate content, and JSON escapes them. Only NUL is refused: no decoder produces it from
 * a real SMS, and it breaks C strings and PostgreSQL text columns downstream. May be empty.
 */
function body(o: Fields): string {
  const v = present(o, "body");
  if (v.includes("\u0000")) throw new InvalidEventError("bad_value", "body contains a NUL character");
  return v;
}

/**
 * Validate an event object and rebuild it with exactly the protocol's fields, in the seed's order.
 * Unknown fields are dropped (clients see only the documented shape). `seq` is never taken from the
 * payload: only the stream assigns it.
 */
export function normalizeEvent(input: unknown): SmsEvent {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidEventError("decode", "event must be an object");
  }
  const o = input as Fields;
  if (o.type === "sms_status") {
    const event: SmsStatusEvent = {
      type: "sms_status",
      eventId: id(o, "eventId"),
      messageId: id(o, "messageId"),
      appId: id(o, "appId"),
      tenantId: id(o, "tenantId"),
      status: required(o, "status"),
    } as SmsStatusEvent;
    const rcMessageId = optional(o, "rcMessageId");
    if (rcMessageId !== undefined) event.rcMessageId = rcMessageId;
    const error = optional(o, "error");
    if (error !== undefined) event.error = error;
    event.timestamp = timestamp(o);
    if (event.appId === TENANT_WIDE_APP) {
      throw new InvalidEventError("missing_field", "sms_status needs a real appId, not the tenant-wide '_'");
    }
    return event;
  }
  if (o.type === "sms_inbound") {
    const event = {
      type: "sms_inbound",
      eventId: id(o, "eventId"),
      messageId: id(o, "messageId"),
      from: required(o, "from"),
      to: required(o, "to"),
      body: body(o),
    } as SmsInboundEvent;
    const rcMessageId = optional(o, "rcMessageId");
    if (rcMessageId !== undefined) event.rcMessageId = rcMessageId;
    event.tenantId = id(o, "tenantId");
    if (o.appId !== undefined && o.appId !== null) event.appId = id(o, "appId");
    if (event.appId === TENANT_WIDE_APP) delete event.appId;
    event.timestamp = timestamp(o);
    return event;
  }
  throw new InvalidEventError("missing_field", `type must be "sms_status" or "sms_inbound"`);
}

/** The app token of the subject an event belongs on. */
export function appTokenOf(event: SmsEvent): string {
  return event.appId ?? TENANT_WIDE_APP;
}

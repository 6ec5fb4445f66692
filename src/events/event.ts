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

/** Tenant and app ids, as in subject tokens. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** App token of tenant-wide events (inbound SMS not bound to one app). */
export const TENANT_WIDE_APP = "_";

export const kindOfType = { sms_status: "status", sms_inbound: "inbound" } as const satisfies Record<
  SmsEvent["type"],
  EventKind
>;

type Fields = Record<string, unknown>;

function required(o: Fields, field: string): string {
  const v = o[field];
  if (typeof v !== "string" || v.length === 0) {
    throw new InvalidEventError("missing_field", `${field} must be a non-empty string`);
  }
  return v;
}

function optional(o: Fields, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new InvalidEventError("missing_field", `${field} must be a string when present`);
  return v;
}

function id(o: Fields, field: string): string {
  const v = required(o, field);
  if (!ID_PATTERN.test(v)) throw new InvalidEventError("missing_field", `${field} must match ${ID_PATTERN}`);
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
      eventId: required(o, "eventId"),
      messageId: required(o, "messageId"),
      appId: id(o, "appId"),
      tenantId: id(o, "tenantId"),
      status: required(o, "status"),
    } as SmsStatusEvent;
    const rcMessageId = optional(o, "rcMessageId");
    if (rcMessageId !== undefined) event.rcMessageId = rcMessageId;
    const error = optional(o, "error");
    if (error !== undefined) event.error = error;
    event.timestamp = required(o, "timestamp");
    if (event.appId === TENANT_WIDE_APP) {
      throw new InvalidEventError("missing_field", "sms_status needs a real appId, not the tenant-wide '_'");
    }
    return event;
  }
  if (o.type === "sms_inbound") {
    const event = {
      type: "sms_inbound",
      eventId: required(o, "eventId"),
      messageId: required(o, "messageId"),
      from: required(o, "from"),
      to: required(o, "to"),
      body: typeof o.body === "string" ? o.body : required(o, "body"),
    } as SmsInboundEvent;
    const rcMessageId = optional(o, "rcMessageId");
    if (rcMessageId !== undefined) event.rcMessageId = rcMessageId;
    event.tenantId = id(o, "tenantId");
    if (o.appId !== undefined && o.appId !== null) event.appId = id(o, "appId");
    if (event.appId === TENANT_WIDE_APP) delete event.appId;
    event.timestamp = required(o, "timestamp");
    return event;
  }
  throw new InvalidEventError("missing_field", `type must be "sms_status" or "sms_inbound"`);
}

/** The app token of the subject an event belongs on. */
export function appTokenOf(event: SmsEvent): string {
  return event.appId ?? TENANT_WIDE_APP;
}

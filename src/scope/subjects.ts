/** NATS subjects of the bus contract (SPEC section 2). */
import { ID_PATTERN, type EventKind } from "../events/event.js";

export const LIVE_PREFIX = "sms";
export const DURABLE_PREFIX = "in.sms";
export const STREAM_NAME = "SMS_EVENTS";

export function liveSubject(tenantId: string, appToken: string, kind: EventKind): string {
  return `${LIVE_PREFIX}.${tenantId}.${appToken}.${kind}`;
}

export function durableSubject(tenantId: string, appToken: string, kind: EventKind): string {
  return `${DURABLE_PREFIX}.${tenantId}.${appToken}.${kind}`;
}

export interface LiveSubject {
  tenantId: string;
  appToken: string;
  kind: EventKind;
}

// Subjects repeat (one per tenant, app and kind): remember the parses, within a bound.
const parsed = new Map<string, LiveSubject | null>();
const PARSED_MAX = 50_000;

/** Parse `sms.<tenant>.<app>.<kind>`; null when the subject is not one of ours. */
export function parseLiveSubject(subject: string): LiveSubject | null {
  let result = parsed.get(subject);
  if (result !== undefined) return result;
  result = parseUncached(subject);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(subject, result);
  return result;
}

function parseUncached(subject: string): LiveSubject | null {
  const parts = subject.split(".");
  if (parts.length !== 4 || parts[0] !== LIVE_PREFIX) return null;
  const [, tenantId, appToken, kind] = parts as [string, string, string, string];
  if (kind !== "status" && kind !== "inbound") return null;
  if (!ID_PATTERN.test(tenantId) || !ID_PATTERN.test(appToken)) return null;
  return Object.freeze({ tenantId, appToken, kind });
}

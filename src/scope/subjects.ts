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

/** Parse `sms.<tenant>.<app>.<kind>`; null when the subject is not one of ours. */
export function parseLiveSubject(subject: string): LiveSubject | null {
  const parts = subject.split(".");
  if (parts.length !== 4 || parts[0] !== LIVE_PREFIX) return null;
  const [, tenantId, appToken, kind] = parts as [string, string, string, string];
  if (kind !== "status" && kind !== "inbound") return null;
  if (!ID_PATTERN.test(tenantId) || !ID_PATTERN.test(appToken)) return null;
  return { tenantId, appToken, kind };
}

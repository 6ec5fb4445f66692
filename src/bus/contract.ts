/**
 * The bus contract, owned here and nowhere else: subject prefixes, the stream's name, live and
 * stored subjects and the mapping between them, and the headers the stream adds on republish.
 * See README.md, "Bus contract (for producers)".
 *
 *   producer --JetStream--> in.sms.<tenant>.<app>.<kind>   stored in SMS_EVENTS
 *   SMS_EVENTS --RePublish--> sms.<tenant>.<app>.<kind>    + Nats-Sequence, Nats-Last-Sequence
 *   producer --core NATS--> sms.<tenant>.<app>.<kind>      the direct path: no sequence
 */
import { RepublishHeaders } from "@nats-io/jetstream";
import { ID_PATTERN, type EventKind } from "../events/event.js";

/** Live subjects: what nodes subscribe to. */
export const LIVE_PREFIX = "sms";
/** Stored subjects: what producers publish to on the durable path. */
export const DURABLE_PREFIX = "in.sms";
export const STREAM_NAME = "SMS_EVENTS";

/** Headers JetStream's RePublish adds to each live copy (the library's own constants). */
export const Headers = {
  /** The event's stream sequence. */
  sequence: RepublishHeaders.Sequence,
  /** The sequence of the previous stored event on the same subject (0 when none). */
  lastSequence: RepublishHeaders.LastSequence,
  /** The stream that stored the event (a partition's stream when STREAM_PARTITIONS > 1). */
  stream: RepublishHeaders.Stream,
} as const;

export function liveSubject(tenantId: string, appToken: string, kind: EventKind): string {
  return `${LIVE_PREFIX}.${tenantId}.${appToken}.${kind}`;
}

export function durableSubject(tenantId: string, appToken: string, kind: EventKind): string {
  return `${DURABLE_PREFIX}.${tenantId}.${appToken}.${kind}`;
}

/** `sms.t.a.*` -> `in.sms.t.a.*`: the stored subject (or filter) of a live one. */
export function storedOfLive(live: string): string {
  return `${DURABLE_PREFIX}${live.slice(LIVE_PREFIX.length)}`;
}

/** `in.sms.t.a.status` -> `sms.t.a.status`: the live subject a stored event is republished to. */
export function liveOfStored(stored: string): string {
  return `${LIVE_PREFIX}${stored.slice(DURABLE_PREFIX.length)}`;
}

/** The stream's subjects and its RePublish mapping (stored -> live). */
export const STORED_SUBJECTS = `${DURABLE_PREFIX}.>`;
export const LIVE_SUBJECTS = `${LIVE_PREFIX}.>`;

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

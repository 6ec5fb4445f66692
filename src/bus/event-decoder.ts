/**
 * Bus payload -> client frame. Runs once per event on the node (never per socket): MessagePack
 * decode, contract checks against the subject, `seq` from the stream header, JSON encode.
 */
import { Unpackr } from "msgpackr";
import { InvalidEventError } from "../errors.js";
import { appTokenOf, kindOfType, MAX_EVENT_BYTES, normalizeEvent, timestampMs, type SmsEvent } from "../events/event.js";
import { parseLiveSubject } from "./contract.js";

// Plain MessagePack only: no record extension, so any producer library interoperates.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export interface DecodedEvent {
  readonly event: SmsEvent;
  /** The frame sent to clients, encoded once. */
  readonly frame: string;
  /** The live subject it came on. */
  readonly subject: string;
  readonly tenantId: string;
  readonly appToken: string;
  /** The event's timestamp in ms (NaN when it does not parse), for the fan-out latency. */
  readonly sentAt: number;
}

/**
 * Decode and check one bus message. Throws InvalidEventError (with a metric `reason`) when the
 * payload does not decode, lacks a field, or disagrees with its subject.
 */
export function decodeBusEvent(subject: string, data: Uint8Array, seq: number | undefined): DecodedEvent {
  const live = parseLiveSubject(subject);
  if (live === null) throw new InvalidEventError("bad_subject", `not an event subject: ${subject}`);
  if (data.byteLength > MAX_EVENT_BYTES) throw new InvalidEventError("too_large", `payload of ${data.byteLength} bytes is over ${MAX_EVENT_BYTES}`);
  let raw: unknown;
  try {
    raw = unpackr.unpack(data);
  } catch (err) {
    throw new InvalidEventError("decode", `payload is not MessagePack: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) {
    throw new InvalidEventError("decode", "payload is not a MessagePack map");
  }
  const event = normalizeEvent(raw);
  if (kindOfType[event.type] !== live.kind) {
    throw new InvalidEventError("type_mismatch", `${event.type} published on a ${live.kind} subject`);
  }
  if (event.tenantId !== live.tenantId) {
    throw new InvalidEventError("tenant_mismatch", "tenantId disagrees with the subject");
  }
  if (appTokenOf(event) !== live.appToken) {
    throw new InvalidEventError("app_mismatch", "appId disagrees with the subject");
  }
  if (seq !== undefined) event.seq = seq;
  return {
    event,
    frame: JSON.stringify(event),
    subject,
    tenantId: live.tenantId,
    appToken: live.appToken,
    sentAt: timestampMs(event.timestamp),
  };
}

/** Parse the `Nats-Sequence` header value; undefined when absent or malformed. */
export function parseSequence(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

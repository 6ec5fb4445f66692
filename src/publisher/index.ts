/**
 * The producer side of the bus contract (README.md, "Bus contract (for producers)"), for the SMS API and carrier services:
 *
 *   import { publishSmsStatus } from "sms-ws-gateway/publisher";
 *   await publishSmsStatus(nc, { messageId, appId, tenantId, status: "sent" });
 *
 * Events are validated, `eventId` and `timestamp` filled in when absent, packed as plain
 * MessagePack and published on the durable path (JetStream, acknowledged) unless `direct` is set.
 * Validation is the very function the gateway nodes run on every bus payload (events/event.ts):
 * what `prepareEvent` accepts, no node drops; what it refuses throws here, in the producer, with
 * the same `reason` a node would count (ids, field caps, control characters, timestamp).
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Packr } from "msgpackr";
import { randomUUID } from "node:crypto";
import { appTokenOf, kindOfType, normalizeEvent, type SmsEvent, type SmsInboundEvent, type SmsStatusEvent } from "../events/event.js";
import { durableSubject, liveSubject } from "../bus/contract.js";

export type { SmsEvent, SmsInboundEvent, SmsStatusEvent } from "../events/event.js";
export { EVENT_FIELD_MAX_LENGTH, ID_PATTERN, MAX_EVENT_BYTES } from "../events/event.js";
export { InvalidEventError, REJECT_REASONS, type RejectReason } from "../errors.js";

type Filled = "type" | "eventId" | "timestamp" | "seq";
export type SmsStatusInput = Omit<SmsStatusEvent, Filled> & { eventId?: string; timestamp?: string };
export type SmsInboundInput = Omit<SmsInboundEvent, Filled> & { eventId?: string; timestamp?: string };

export interface PublishOptions {
  /** Core NATS straight to the live subject: no stream, no seq, no resume. Default false. */
  direct?: boolean;
  /** JetStream ack timeout, ms. */
  timeoutMs?: number;
}

export interface Published {
  event: SmsEvent;
  subject: string;
  /** Stream sequence (durable path only). */
  seq?: number;
}

// Plain MessagePack: no record extension, so consumers in any language can decode it.
const packr = new Packr({ useRecords: false });

/** Validate and complete an event object; throws InvalidEventError (see its `reason`). */
export function prepareEvent(input: Record<string, unknown>): SmsEvent {
  return normalizeEvent({
    ...input,
    eventId: input.eventId ?? randomUUID(),
    timestamp: input.timestamp ?? new Date().toISOString(),
  });
}

export function encodeEvent(event: SmsEvent): Uint8Array {
  return packr.pack(event);
}

export async function publishEvent(
  nc: NatsConnection,
  input: Record<string, unknown>,
  options: PublishOptions = {},
): Promise<Published> {
  const event = prepareEvent(input);
  const kind = kindOfType[event.type];
  const data = encodeEvent(event);
  if (options.direct) {
    const subject = liveSubject(event.tenantId, appTokenOf(event), kind);
    nc.publish(subject, data);
    await nc.flush();
    return { event, subject };
  }
  const subject = durableSubject(event.tenantId, appTokenOf(event), kind);
  const ack = await jetstream(nc).publish(subject, data, {
    msgID: event.eventId,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  return { event, subject, seq: ack.seq };
}

export function publishSmsStatus(nc: NatsConnection, input: SmsStatusInput, options?: PublishOptions): Promise<Published> {
  return publishEvent(nc, { ...input, type: "sms_status" }, options);
}

export function publishSmsInbound(nc: NatsConnection, input: SmsInboundInput, options?: PublishOptions): Promise<Published> {
  return publishEvent(nc, { ...input, type: "sms_inbound" }, options);
}

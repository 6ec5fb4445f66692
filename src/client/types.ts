/** The public data types of the client SDK: events, states, and what listeners and iterators get. */
import type { SmsWsError } from "./errors.js";

/** Known statuses; any other string passes through (the server does not restrict them). */
export type SmsStatus = "queued" | "sending" | "sent" | "delivered" | "failed" | (string & {});

/** An outbound message changed status. */
export interface SmsStatusEvent {
  type: "sms_status";
  /** Unique per event; the client de-duplicates on it. */
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

/**
 * - `connecting`: a socket is opening.
 * - `authenticating`: open, plain auth sent, waiting for auth_ok.
 * - `resuming`: open, auth with a resume position sent; stays until `resumed`/`resume_failed`
 *   (events replayed meanwhile are delivered as usual).
 * - `live`: authenticated, receiving events.
 * - `reconnecting`: the socket is gone; waiting out the backoff delay before `connecting` again.
 * - `closed`: terminal, after close() or a fatal close code (4400, 4401, 4403).
 */
export type ClientState = "connecting" | "authenticating" | "resuming" | "live" | "reconnecting" | "closed";

export interface StateChange {
  state: ClientState;
  previous: ClientState;
  /** Close code of the socket that just went away (with `reconnecting` or `closed`). */
  closeCode?: number;
  closeReason?: string;
  /** With `reconnecting`: how many reconnects in a row this is (1 = first) and the delay chosen. */
  attempt?: number;
  delayMs?: number;
  /** With `closed` after a fatal close code. */
  error?: SmsWsError;
}

/** Where the client is in the stream; store it to resume across page loads or restarts. */
export interface StreamPosition {
  /** The stream incarnation from auth_ok; sequences are only comparable within one epoch. */
  epoch: string;
  /** The highest `seq` delivered in that epoch. */
  seq: number;
}

/**
 * Server reasons: `retention` (events after the position were already deleted), `epoch` (the
 * stream was recreated), `limit` (too many events to replay), `unavailable` (the node cannot
 * replay at all). Client reason `no_position`: a reconnect happened but the client had no
 * position to resume from (no event with a `seq` was seen yet, or auth_ok carried no epoch).
 */
export type ResumeFailedReason = "retention" | "epoch" | "limit" | "unavailable" | "no_position" | (string & {});

/**
 * Events may have been missed. Backfill through the REST API, for example
 * `GET /v1/sms/messages?startDate=<disconnectedAt>`.
 */
export interface ResumeFailure {
  reason: ResumeFailedReason;
  /** The position the client asked to resume from, if it asked. */
  from?: StreamPosition;
  /** When the last live connection was lost (ISO 8601), if this client had one. */
  disconnectedAt?: string;
}

export interface ResumeSuccess {
  /** Events the server replayed (duplicates the client dropped are included in this count). */
  replayed: number;
  from: StreamPosition;
}

/** What the async iterator yields: a tagged union, switch on `kind`. */
export type ClientItem =
  | { kind: "event"; event: SmsEvent }
  | ({ kind: "state" } & StateChange)
  | ({ kind: "resumed" } & ResumeSuccess)
  | ({ kind: "resumeFailed" } & ResumeFailure);

/** Listener payloads, by name, for `client.on(name, fn)`. */
export interface ClientEventMap {
  event: SmsEvent;
  state: StateChange;
  error: SmsWsError;
  resumed: ResumeSuccess;
  resumeFailed: ResumeFailure;
}

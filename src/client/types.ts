/** The public data types of the client SDK: events, states, and what listeners and iterators get. */
import type { SmsWsError } from "./errors.js";
import type { BackfillResult } from "./history.js";

// The event shapes are the server's own (one definition). A type-only import: nothing of it
// reaches the built JavaScript, so dist/client/ still stands alone in a browser.
import type { SmsEvent, SmsInboundEvent, SmsStatusEvent } from "../events/event.js";
export type { SmsEvent, SmsInboundEvent, SmsStatus, SmsStatusEvent } from "../events/event.js";

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
  /** The position the client asked to resume from, if it asked (one stream). */
  from?: StreamPosition;
  /** Admin client on a partitioned stream: the positions it asked to resume from, one per partition. */
  positions?: StreamPosition[];
  /** When the last live connection was lost (ISO 8601), if this client had one. */
  disconnectedAt?: string;
}

export interface ResumeSuccess {
  /** Events the server replayed (duplicates the client dropped are included in this count). */
  replayed: number;
  /** The position resumed from (one stream); absent when `positions` is set. */
  from?: StreamPosition;
  /** Admin client on a partitioned stream: the positions resumed from, one per partition. */
  positions?: StreamPosition[];
}

/** What the async iterator yields: a tagged union, switch on `kind`. */
export type ClientItem =
  | { kind: "event"; event: SmsEvent }
  | ({ kind: "state" } & StateChange)
  | ({ kind: "resumed" } & ResumeSuccess)
  | ({ kind: "resumeFailed" } & ResumeFailure)
  | ({ kind: "backfilled" } & BackfillResult);

/** Listener payloads, by name, for `client.on(name, fn)`. */
export interface ClientEventMap {
  event: SmsEvent;
  state: StateChange;
  error: SmsWsError;
  resumed: ResumeSuccess;
  resumeFailed: ResumeFailure;
  /** With `backfill: true`, after a resume_failed for retention: what was recovered, what was lost. */
  backfilled: BackfillResult;
}

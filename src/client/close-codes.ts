/**
 * The one table of WebSocket close codes: what each means and what a client does on it. The
 * server sends these (it imports this file) and the SDK acts on them, so the two cannot drift;
 * the file imports nothing, so the SDK still builds and ships to browsers on its own.
 * 4xxx codes mirror HTTP statuses (4401 = 401) so they read at a glance.
 */
import type { SmsWsErrorCode } from "./errors.js";

export const CloseCode = {
  /** Node draining or shutting down, or a feed that must resync: reconnect (another node), resume. */
  GoingAway: 1001,
  /** A client frame larger than 4 KiB: fix the client; reconnecting repeats it. */
  MessageTooBig: 1009,
  /** First message was not a well-formed auth message (or a malformed filter): fix the client. */
  BadRequest: 4400,
  /** Invalid, unknown or revoked credential: the same credential will be refused again. */
  Unauthorized: 4401,
  /**
   * Origin not allowed (answered 403 before the upgrade), or a credential of a role this node's
   * pool does not serve (ALLOWED_ROLES: admin keys at the app endpoint or the reverse): the same
   * URL will refuse it again.
   */
  Forbidden: 4403,
  /** No auth message within AUTH_TIMEOUT_MS: reconnect and authenticate at once. */
  AuthTimeout: 4408,
  /** Kicked by an operator (`sms-ws kick`): the credential stays valid, but the SDK does not reconnect by itself. */
  Kicked: 4410,
  /** The connection token expired: get a fresh token, reconnect, resume. */
  TokenExpired: 4419,
  /**
   * Slow consumer, the tenant's connection cap, a stalled replay, or frames past the socket's
   * budget (FRAME_RATE_PER_S, REFRESH_RATE_PER_MIN): back off, reconnect, resume.
   */
  TooMany: 4429,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export type CloseAction =
  /** Reconnect after the backoff delay, resuming from the last position. */
  | { kind: "reconnect"; error?: SmsWsErrorCode; freshCredential?: true }
  /** Give up: reconnecting with the same credential or the same client cannot succeed. */
  | { kind: "stop"; error: SmsWsErrorCode };

/** What a client does on each code the server sends; codes not listed reconnect (1006, new ones). */
export const CLOSE_ACTIONS: Readonly<Record<CloseCodeValue, CloseAction>> = {
  [CloseCode.GoingAway]: { kind: "reconnect" },
  // The only frames the SDK sends are small: this means an absurd credential or a proxy limit;
  // retrying with backoff is harmless, and the error tells the application.
  [CloseCode.MessageTooBig]: { kind: "reconnect", error: "MESSAGE_TOO_BIG" },
  [CloseCode.BadRequest]: { kind: "stop", error: "BAD_REQUEST" },
  [CloseCode.Unauthorized]: { kind: "stop", error: "AUTH_FAILED" },
  [CloseCode.Forbidden]: { kind: "stop", error: "FORBIDDEN" },
  [CloseCode.AuthTimeout]: { kind: "reconnect" },
  [CloseCode.Kicked]: { kind: "stop", error: "KICKED" },
  [CloseCode.TokenExpired]: { kind: "reconnect", freshCredential: true },
  [CloseCode.TooMany]: { kind: "reconnect" },
};

/** Close code the client uses itself when the heartbeat watchdog gives up on a silent socket. */
export const HEARTBEAT_TIMEOUT_CLOSE = 4000;

export function closeAction(code: number): CloseAction {
  return (CLOSE_ACTIONS as Readonly<Record<number, CloseAction>>)[code] ?? { kind: "reconnect" };
}

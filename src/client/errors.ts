/**
 * The one error class of the client SDK. `code` is stable (switch on it, not on the message);
 * `closeCode` is the WebSocket close code that caused it, when there was one; `fatal` says
 * whether the client gave up (state "closed") or carries on (reconnecting, or a dropped frame).
 */

export type SmsWsErrorCode =
  /** auth_error + close 4401: invalid, unknown or revoked API key or token. Fatal. */
  | "AUTH_FAILED"
  /** close 4400: the server refused the auth message. Fatal. */
  | "BAD_REQUEST"
  /** close 4403: origin not allowed. Fatal. */
  | "FORBIDDEN"
  /** close 4410: an operator closed the connection (`sms-ws kick`); the key stays valid. Fatal. */
  | "KICKED"
  /** close 1009: a frame was too big for the peer. The client reconnects. */
  | "MESSAGE_TOO_BIG"
  /** A server frame that is not JSON or an event missing a required field; it is dropped. */
  | "INVALID_FRAME"
  /** The WebSocket could not be created at all (bad URL, no WebSocket implementation). Fatal. */
  | "CONNECT_FAILED"
  /** An "event", "state" ... listener threw; the client is unaffected. */
  | "LISTENER_FAILED"
  /**
   * `getToken` threw, rejected, returned no token or did not answer in time. The client retries
   * with backoff (fatal only with `reconnect: false`, at connect time).
   */
  | "TOKEN_FETCH_FAILED"
  /** `client.history()` or the backfill: the HTTP request failed or was refused (`httpStatus`). */
  | "HISTORY_FAILED";

export class SmsWsError extends Error {
  readonly code: SmsWsErrorCode;
  readonly closeCode: number | undefined;
  readonly fatal: boolean;
  /** HISTORY_FAILED: the HTTP status the server answered, when it answered. */
  readonly httpStatus: number | undefined;

  constructor(
    code: SmsWsErrorCode,
    message: string,
    options: { closeCode?: number; fatal?: boolean; cause?: unknown; httpStatus?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SmsWsError";
    this.code = code;
    this.closeCode = options.closeCode;
    this.fatal = options.fatal ?? false;
    this.httpStatus = options.httpStatus;
  }
}
